#!/usr/bin/python3
"""The benchmark's shared helpers and constants (bench.py and its steps' modules).

What a reader must know: the state shared by the steps lives here as
module-level objects that are mutated, never rebound (CLUSTER, PROCS,
DB_SETTINGS, PUSH_SINK_SETTINGS), except KAFKA_CONFIG, which bench.py's
main() extends once before anything runs and which is read as
bench_util.KAFKA_CONFIG.  Processes started with start_proc() are stopped
at exit (cleanup).  Servers run as postgres when the bench runs as root
(as_pg).
"""

import gzip
import json
import math
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import time

import psycopg2
from confluent_kafka import Consumer, TopicPartition



HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"

# f1tel's eighteen endpoints, in src/shared/endpoints.c order, with their default topics and natural keys
ENDPOINTS = ["laps", "position", "drivers", "race_control", "sessions", "meetings", "car_data", "location",
             "intervals", "pit", "stints", "weather", "session_result", "starting_grid", "overtakes",
             "team_radio", "championship_drivers", "championship_teams"]
DEFAULT_TOPICS = {ep: "f1_" + ep for ep in ENDPOINTS}
DEFAULT_TOPICS["race_control"] = "f1-race_control"
KEYS = {"laps": ("session_key", "driver_number", "lap_number"),
        "position": ("session_key", "driver_number", "date"),
        "drivers": ("session_key", "driver_number"),
        "sessions": ("session_key",), "meetings": ("meeting_key",),
        "car_data": ("session_key", "driver_number", "date"),
        "location": ("session_key", "driver_number", "date"),
        "race_control": None,
        "intervals": ("session_key", "driver_number", "date"),
        "pit": ("session_key", "driver_number", "lap_number"),
        "stints": ("session_key", "driver_number", "stint_number"),
        "weather": ("session_key", "date"),
        "session_result": ("session_key", "driver_number"),
        "starting_grid": ("session_key", "driver_number"),
        "overtakes": ("session_key", "date", "overtaking_driver_number", "overtaken_driver_number"),
        "team_radio": ("session_key", "driver_number", "date"),
        "championship_drivers": ("session_key", "driver_number"),
        "championship_teams": ("session_key", "team_name")}
# the endpoints without a time of their own (f1tel-feed sends them first)
UNTIMED = ("sessions", "meetings", "drivers", "stints", "session_result", "starting_grid",
           "championship_drivers", "championship_teams")
# the order f1tel writes a batch in (src/ingest/store.c: the untimed endpoints by rank, then the others)
WRITE_ORDER = ["sessions", "meetings", "drivers", "stints", "session_result", "starting_grid",
               "championship_drivers", "championship_teams", "laps", "position", "race_control", "car_data",
               "location", "intervals", "pit", "weather", "overtakes", "team_radio"]
# COPY loads car_data last, so that the recomputations of the other inputs never see its samples:
# then with its triggers off no lap counts one, and on/off isolates the telemetry's work
COPY_ORDER = [ep for ep in WRITE_ORDER if ep != "car_data"] + ["car_data"]
# the statement triggers that keep driver_laps' telemetry (src/enrich/triggers.sql)
TELEMETRY_TRIGGERS = ("driver_laps_sync_insert", "driver_laps_sync_update", "driver_laps_sync_delete")
PUSH_ENDPOINTS = ["laps", "position", "drivers", "race_control", "sessions", "meetings"]
KAFKA_CONFIG = ("session.timeout.ms=6000, heartbeat.interval.ms=1000, "
                "reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10")

# --db-set: planner settings of the ingest runs' database (the worker's session picks them up)
DB_SETTINGS = []
T_START = time.time()
PROCS = []          # (name, Popen) we started, stopped at exit by pid
CLUSTER = {}


def log(msg):
    el = time.time() - T_START
    print("[%02d:%02d] %s" % (el // 60, el % 60, msg), flush=True)


def die(msg):
    log("FAILED: " + msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def as_pg(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def pctl(*args, check=True):
    cmd = as_pg([os.path.join(CLUSTER["bindir"], "pg_ctl"), "-D", CLUSTER["data"], "-l",
                 CLUSTER["logfile"], "-w", "-t", "60"] + list(args))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90)
    if check and r.returncode != 0:
        die("pg_ctl %s: %s" % (" ".join(args), r.stdout[-2000:]))
    return r


def start_proc(name, cmd, ready=None, env=None, timeout=30, stdout=None):
    """Start a program; if ready is a regex, wait for it on stdout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if ready else (stdout or subprocess.DEVNULL),
                         stderr=subprocess.DEVNULL, env=env, text=True)
    PROCS.append((name, p))
    if ready:
        deadline = time.time() + timeout
        buf = ""
        while time.time() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                line = p.stdout.readline()
                if not line:
                    break
                buf += line
                if re.search(ready, buf):
                    return p
            if p.poll() is not None:
                break
        die("%s did not start (%s)" % (name, buf.strip()))
    return p


def stop_proc(p, sig=signal.SIGTERM, wait=10):
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
            p.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def cleanup():
    for name, p in reversed(PROCS):
        stop_proc(p, wait=5)
    if CLUSTER.get("started"):
        pctl("stop", "-m", "immediate", check=False)
        CLUSTER["started"] = False


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, p):
    """nearest-rank percentile"""
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, math.ceil(p / 100.0 * len(xs)) - 1))
    return xs[k]


def vmhwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_mem_kb(pid):
    """(RssAnon, RssShmem) now, in kB"""
    anon = shm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
                elif line.startswith("RssShmem:"):
                    shm = int(line.split()[1])
    except OSError:
        pass
    return anon, shm


def anon_breakdown_kb(pid):
    """Anonymous memory now: the [heap] (the main thread's malloc: PostgreSQL, the decoder) and the rest
    (other threads' malloc arenas and large mmaps: mostly librdkafka)"""
    heap = other = 0
    name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if "-" in line.split(" ", 1)[0] and not line.startswith(("Anon", "Rss", "Pss")):
                    parts = line.split()
                    name = parts[5] if len(parts) > 5 else ""
                elif line.startswith("Anonymous:"):
                    kb = int(line.split()[1])
                    if name == "[heap]":
                        heap += kb
                    elif not name or name.startswith("[anon"):
                        other += kb
    except OSError:
        return None
    return {"heap": heap, "other_anon": other}


def proc_cpu_secs(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return None


def machine_cpu():
    """(busy, total) jiffies of the whole machine"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---- the recorded data ------------------------------------------------------------------

def load_records(sdir, ep):
    for ext in (".json", ".json.gz"):
        f = os.path.join(sdir, ep + ext)
        if os.path.exists(f):
            op = gzip.open if ext.endswith(".gz") else open
            with op(f, "rt", encoding="utf-8") as fh:
                return json.load(fh)
    return None


def data_endpoints(sdir):
    """The endpoints with a recorded file in sdir (f1tel-feed sends every one it finds)."""
    return [ep for ep in ENDPOINTS
            if any(os.path.exists(os.path.join(sdir, ep + ext)) for ext in (".json", ".json.gz"))]


def count_session(sdir):
    """Per endpoint: messages, rows after the natural-key merge, records without a full key."""
    out = {}
    for ep in ENDPOINTS:
        recs = load_records(sdir, ep)
        if recs is None:
            out[ep] = (0, 0, 0)
            continue
        key = KEYS[ep]
        seen = set()
        dead = 0
        for r in recs:
            if key:
                k = tuple(r.get(c) for c in key)
                if None in k:
                    dead += 1
                    continue
            else:
                k = json.dumps(r, sort_keys=True)
            seen.add(k)
        out[ep] = (len(recs), len(seen), dead)
    return out


def totals(counts, sessions, clones, endpoints=ENDPOINTS):
    """messages, rows per endpoint (0 for endpoints not fed) and dead letters for clones of sessions."""
    msgs = {ep: clones * sum(counts[s][ep][0] for s in sessions) if ep in endpoints else 0 for ep in ENDPOINTS}
    rows = {ep: clones * sum(counts[s][ep][1] for s in sessions) if ep in endpoints else 0 for ep in ENDPOINTS}
    dead = clones * sum(counts[s][ep][2] for s in sessions for ep in endpoints)
    return msgs, rows, dead


# ---- Kafka ---------------------------------------------------------------------------

def watermarks(port, topics):
    c = Consumer({"bootstrap.servers": "127.0.0.1:%d" % port, "group.id": "bench-wm",
                  "enable.auto.commit": False})
    md = c.list_topics(timeout=10)
    out = {}
    for t in topics:
        lo_s = hi_s = 0
        for p in md.topics[t].partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            lo_s += lo
            hi_s += hi
        out[t] = (lo_s, hi_s)
    c.close()
    return out


def create_times(port, topics):
    """(topic, partition, offset) -> CreateTime in seconds, for every message of topics."""
    c = Consumer({"bootstrap.servers": "127.0.0.1:%d" % port, "group.id": "bench-ts",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    md = c.list_topics(timeout=10)
    parts = []
    left = 0
    for t in topics:
        for p in md.topics[t].partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            if hi > lo:
                parts.append(TopicPartition(t, p, lo))
                left += hi - lo
    c.assign(parts)
    ts = {}
    deadline = time.time() + 60
    while left > 0 and time.time() < deadline:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                continue
            ts[(m.topic(), m.partition(), m.offset())] = m.timestamp()[1] / 1000.0
            left -= 1
    c.close()
    return ts


def feed(port, dirs, offset=0, endpoints=None, topics=None, speed="max", extra=(), timeout=300):
    cmd = ["f1tel-feed", "--brokers", "127.0.0.1:%d" % port, "--speed", str(speed), "--quiet"]
    if offset:
        cmd += ["--session-key-offset", str(offset)]
    if endpoints:
        cmd += ["--endpoints", ",".join(endpoints)]
    for ep, t in (topics or {}).items():
        cmd += ["--topic", "%s=%s" % (ep, t)]
    cmd += list(extra) + list(dirs)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        die("f1tel-feed failed (%d): %s" % (r.returncode, r.stderr[-1000:]))


# ---- PostgreSQL ----------------------------------------------------------------------

def connect(db="postgres", autocommit=True):
    c = psycopg2.connect(host="127.0.0.1", port=CLUSTER["port"], user="postgres", dbname=db,
                         connect_timeout=10)
    c.autocommit = autocommit
    return c


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        if cur.description is not None:
            return cur.fetchall()
    return None


def q1(conn, sql, args=None):
    r = q(conn, sql, args)
    return r[0][0] if r else None


# the push step (push_runs): laps per commit of its commit -> ack phase; --push-sink-set
LIVE_PER_COMMIT = 10
PUSH_SINK_SETTINGS = {}


def bq_python():
    """A python with google-cloud-bigquery for peer_push_gcbq.py: $F1TEL_BQ_PYTHON, else the venv
    test/install-deps.sh makes (f1tel_install_bq_python), newest first; None if none has it."""
    import glob
    cands = [os.environ.get("F1TEL_BQ_PYTHON")] + sorted(
        glob.glob("/var/cache/f1tel/venv-google-cloud-bigquery-*/bin/python"), reverse=True)
    for c in cands:
        if c and subprocess.run([c, "-c", "import google.cloud.bigquery"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode == 0:
            return c
    return None


def bq_hook(url, path, body):
    """POST a test hook of the local BigQuery server (e.g. /_latency)."""
    import urllib.request
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def alter_system(settings, reload=True):
    c = connect()
    for k, v in settings.items():
        q(c, "ALTER SYSTEM SET %s = %%s" % k, (str(v),))
    if reload:
        q(c, "SELECT pg_reload_conf()")
    c.close()


def init_cluster(tmp):
    bindir = subprocess.run(["pg_config", "--bindir"], stdout=subprocess.PIPE, text=True).stdout.strip()
    if not os.path.exists(os.path.join(bindir, "initdb")):
        bindir = "/usr/lib/postgresql/15/bin"
    CLUSTER.update(bindir=bindir, data=os.path.join(tmp, "pgdata"), port=free_port(),
                   logfile=os.path.join(tmp, "postgres.log"))
    r = subprocess.run(as_pg([os.path.join(bindir, "initdb"), "-D", CLUSTER["data"], "-U", "postgres",
                              "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        die("initdb: " + r.stdout[-2000:])
    with open(os.path.join(CLUSTER["data"], "postgresql.conf"), "a") as f:
        f.write("""
# ---- f1tel benchmark
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
shared_preload_libraries = 'f1tel'
f1tel.database = 'bench'
f1tel.ingest_workers = 1
f1tel.brokers = '127.0.0.1:1'
f1tel.enriched_topic = ''
f1tel.kafka_config = '%s'
max_worker_processes = 16
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
log_min_messages = warning
""" % (CLUSTER["port"], tmp, KAFKA_CONFIG))
    pctl("start")
    CLUSTER["started"] = True


def log_size():
    try:
        return os.path.getsize(CLUSTER["logfile"])
    except OSError:
        return 0


def wait_log(offset, text, timeout):
    """wait until text appears in the server log after offset; False on timeout"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(CLUSTER["logfile"], "rb") as f:
                f.seek(offset)
                if text.encode() in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def fresh_db(name, extension=True):
    c = connect()
    q(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    q(c, "CREATE DATABASE %s" % name)
    c.close()
    if extension:
        d = connect(name)
        q(d, "CREATE EXTENSION f1tel")
        d.close()


def worker_pids(conn, kind="f1tel ingest"):
    return [r[0] for r in q(conn, "SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (kind,))]


def wait_for(pred, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return None


# ---- the benchmark ---------------------------------------------------------------------


def lap_latencies(lap_ev, dl_ev, ts, laps_topic):
    """From latency_poll.py's events and the messages' CreateTimes (ts: (topic, partition, offset)
    -> seconds): (ms from each lap message to its laps row visible, ms from a lap's message to its
    first driver_laps version visible, {(session, driver, lap): the lap message's CreateTime})"""
    lat_laps, lap_msg = [], {}
    for _, part, off, s, d, lap, t in lap_ev:
        ct = ts.get((laps_topic, part, off))
        if ct is not None:
            lat_laps.append((t - ct) * 1000)
            lap_msg[(s, d, lap)] = ct
    dl_first = {}
    for (s, d, lap, v), t in dl_ev.items():
        dl_first[(s, d, lap)] = min(t, dl_first.get((s, d, lap), t))
    lat_dl = [(t - lap_msg[k]) * 1000 for k, t in dl_first.items() if k in lap_msg]
    return lat_laps, lat_dl, lap_msg
