#!/usr/bin/python3
"""f1tel's benchmark: the orchestrator behind test/bench/run.sh (see README.md here).

Everything runs on this machine, on 127.0.0.1: one f1tel-broker holding the
backlog, a throwaway PostgreSQL 15 cluster (initdb under --tmp, f1tel
preloaded), the local BigQuery server, the programs f1tel-feed and the
helpers of test/bench.  Prints progress lines, then one table of figures,
ratios and goals; writes the same to --out as JSON.
"""

import argparse
import atexit
import datetime
import gzip
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import psycopg2
from confluent_kafka import Consumer, TopicPartition

import bench_flink      # the "flink" step (bench_flink.py)

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

class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = a.tmp
        self.data = a.data
        self.res = {"figures": {}, "runs": {}, "settings": {}, "missing": [], "notes": []}
        self.group_n = 0

    def budget_left(self):
        return self.a.budget - (time.time() - T_START)

    # -- setup
    def setup(self):
        a = self.a
        counter = {}

        def count():
            for s in ("9189", "9606"):
                counter[s] = count_session(os.path.join(self.data, s))
        th = threading.Thread(target=count)
        th.start()

        # f1tel-feed sends every endpoint file of a folder: the subset's topics cover them all
        self.data_eps = data_endpoints(os.path.join(self.data, "9606"))
        self.sub_topics = {ep: "sub_" + ep for ep in self.data_eps}
        self.push_topics = {ep: "push_" + ep for ep in PUSH_ENDPOINTS}
        want_sub = bool({"bare", "peer"} & a.steps)
        want_push = "push" in a.steps
        extra = (list(self.sub_topics.values()) if want_sub else []) + \
            (list(self.push_topics.values()) if want_push else [])
        self.bport = free_port()
        log("f1tel-broker on 127.0.0.1:%d, %d partitions per topic" % (self.bport, a.partitions))
        self.broker = start_proc("f1tel-broker", ["f1tel-broker", "--port", str(self.bport), "--partitions",
                                                  str(a.partitions)] + (["--topics", "+" + ",".join(extra)]
                                                                        if extra else []),
                                 ready=r"ready")
        dirs = [os.path.join(self.data, s) for s in ("9189", "9606")]
        t0 = time.time()
        for i in range(a.clones):
            feed(self.bport, dirs, offset=i * 100000)
            log("backlog: clone %d/%d of 9189+9606 produced (session keys +%d)" % (i + 1, a.clones, i * 100000))
        if want_sub:
            feed(self.bport, [dirs[1]], offset=900000, topics=self.sub_topics)
            log("subset: 9606 (all endpoints, session key +900000) produced to sub_* topics")
        for i in range(a.push_clones if want_push else 0):
            feed(self.bport, dirs, offset=1000000 + i * 100000, endpoints=PUSH_ENDPOINTS,
                 topics=self.push_topics)
        log("push backlog: %d clones of laps/position/drivers/race_control produced to push_* topics (%.0f s of feeding)"
            % (a.push_clones if want_push else 0, time.time() - t0))
        th.join()
        self.counts = counter
        self.main_msgs, self.main_rows, self.main_dead = totals(counter, ("9189", "9606"), a.clones)
        self.sub_msgs, self.sub_rows, self.sub_dead = totals(counter, ("9606",), 1 if want_sub else 0)
        self.push_msgs, self.push_rows, self.push_dead = totals(counter, ("9189", "9606"),
                                                               a.push_clones if want_push else 0, PUSH_ENDPOINTS)
        wm = watermarks(self.bport, list(DEFAULT_TOPICS.values()) + extra)
        lost = {t: lo for t, (lo, hi) in wm.items() if lo != 0}
        if lost:
            die("the broker dropped data (low watermarks %s): raise --partitions" % lost)
        for topics, msgs, what in ((DEFAULT_TOPICS, self.main_msgs, "backlog"),
                                   (self.sub_topics if want_sub else {}, self.sub_msgs, "subset"),
                                   (self.push_topics if want_push else {}, self.push_msgs, "push backlog")):
            for ep, t in topics.items():
                if wm[t][1] != msgs[ep]:
                    die("%s: topic %s holds %d messages, expected %d" % (what, t, wm[t][1], msgs[ep]))
        self.n_main = sum(self.main_msgs.values())
        self.n_sub = sum(self.sub_msgs.values())
        self.n_push = sum(self.push_msgs.values())
        self.res["settings"].update({
            "broker": "f1tel-broker (librdkafka %s mock cluster), %d partitions per topic, lz4 (f1tel-feed default); "
                      "every low watermark 0 after producing (nothing lost to retention)"
                      % (self._rdkafka_version(), a.partitions),
            "backlog": "%d clones of 9189+9606, all %d recorded endpoints (of f1tel's %d): %d messages (%s)" % (
                a.clones, len(self.data_eps), len(ENDPOINTS), self.n_main,
                ", ".join("%s %d" % (ep, self.main_msgs[ep]) for ep in ENDPOINTS if self.main_msgs[ep])),
            "subset": "9606 once, all %d recorded endpoints: %d messages" % (len(self.data_eps), self.n_sub),
            "push_backlog": "%d clones of 9189+9606 laps/position/drivers/race_control/sessions/meetings: "
                            "%d messages -> %d driver_laps + %d race_control rows" % (
                                a.push_clones, self.n_push, self.push_rows["laps"], self.push_rows["race_control"]),
        })
        log("backlog ready: %d messages in %d partitions per topic, none dropped; subset %d; push %d"
            % (self.n_main, a.partitions, self.n_sub, self.n_push))
        init_cluster(self.tmp)
        c = connect()
        self.res["settings"]["postgresql"] = q1(c, "SELECT version()")
        c.close()
        if DB_SETTINGS:
            self.res["settings"]["db_set"] = ("ALTER DATABASE bench SET %s in every ingest run (--db-set)"
                                              % ", ".join("%s = %s" % kv for kv in DB_SETTINGS))
        self.res["settings"]["cluster"] = ("initdb under the temp dir, fsync on, synchronous_commit on, "
                                           "shared_buffers 512MB, max_wal_size 8GB, checkpoint_timeout 30min; "
                                           "f1tel.kafka_config '%s', f1tel.batch_size 10000, "
                                           "f1tel.batch_wait_ms 0" % KAFKA_CONFIG)
        log("PostgreSQL cluster on 127.0.0.1:%d (data %s)" % (CLUSTER["port"], CLUSTER["data"]))

    def _rdkafka_version(self):
        import confluent_kafka
        return confluent_kafka.libversion()[0]

    # -- 1. the bare consumer
    def bare_consumer(self):
        runs = []
        for i in range(self.a.runs):
            r = self.kcons("bare", DEFAULT_TOPICS.values())
            runs.append(r)
            log("bare librdkafka consumer run %d: %.0f msgs/s (%d msgs in %.2f s, VmHWM %d MB)"
                % (i + 1, r["rate"], r["msgs"], r["secs"], r["vmhwm_kb"] // 1024))
        self.res["runs"]["bare_consumer"] = runs
        sb = self.kcons("bare", self.sub_topics.values())
        sj = self.kcons("json", self.sub_topics.values())
        self.res["runs"]["subset_bare"] = [sb]
        self.res["runs"]["subset_json"] = [sj]
        log("subset: bare consumer %.0f msgs/s (%.2f s CPU), consumer + json-c parse %.0f msgs/s (%.2f s CPU):"
            " JSON costs %.1f us of CPU per message" % (sb["rate"], sb["cpu_secs"], sj["rate"], sj["cpu_secs"],
                                                       (sj["cpu_secs"] - sb["cpu_secs"]) / sj["msgs"] * 1e6))

    def kcons(self, mode, topics):
        r = subprocess.run([self.a.kcons, "127.0.0.1:%d" % self.bport, mode] + list(topics),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=330)
        if r.returncode != 0:
            die("kcons %s: %s %s" % (mode, r.stdout, r.stderr[-500:]))
        return json.loads(r.stdout)

    # -- 2. f1tel ingest runs
    def ingest_run(self, workers, label, topics=None, expect_msgs=None, expect_rows=None, expect_dead=0,
                   timeout=240, extra_settings=None, perf=False, db_sql=(), after=None, brokers=None):
        """One run on a fresh database; db_sql runs in it after CREATE EXTENSION, before the
        workers start; after(conn, result) runs once the counts are checked; brokers: another
        Kafka than the bench's f1tel-broker (the flink step's)."""
        topics = topics or DEFAULT_TOPICS
        self.group_n += 1
        group = "bench-%d" % self.group_n
        settings = {"f1tel.ingest_workers": workers, "f1tel.brokers": "127.0.0.1:1",
                    "f1tel.group_id": group, "f1tel.bigquery_project": ""}
        for ep in ENDPOINTS:
            settings["f1tel.topic_" + ep] = topics.get(ep, DEFAULT_TOPICS[ep] + "_unused")
        settings.update(extra_settings or {})
        log_at = log_size()
        # the number of workers changes with the restart only: a worker started by a reload here
        # would be terminated by DROP DATABASE while it starts up
        alter_system({k: v for k, v in settings.items() if k != "f1tel.ingest_workers"})
        # let the worker finish its reconnect (revoking 1,000+ partitions) before DROP DATABASE
        # terminates it: terminated in the middle of it, the worker aborted (a librdkafka mutex
        # assertion, signal 6) and took the cluster down
        wait_log(log_at, 'consuming from 127.0.0.1:1 as group "%s"' % group, 20)
        fresh_db("bench")
        db_sql = ["ALTER DATABASE bench SET %s = %s" % kv for kv in DB_SETTINGS] + list(db_sql)
        if db_sql:
            d = connect("bench")
            for sql in db_sql:
                q(d, sql)
            d.close()
        alter_system({"f1tel.ingest_workers": workers}, reload=False)
        pctl("restart", "-m", "fast")
        c = connect("bench")
        q(c, "CHECKPOINT")
        pids = wait_for(lambda: (lambda p: p if len(p) == workers else None)(worker_pids(c)), 30)
        if not pids:
            die("%s: %d ingest workers did not start" % (label, workers))
        perf_p = None
        if perf:
            perf_p = self.start_perf(pids[0])
        n_expect = sum(expect_msgs.values())
        cpu0 = {p: proc_cpu_secs(p) for p in pids}
        mcpu0 = machine_cpu()
        load0 = loadavg()
        anon_peak = {p: 0 for p in pids}
        waits = {}
        shm_peak = {p: 0 for p in pids}
        t_enable = time.time()
        alter_system({"f1tel.brokers": brokers or "127.0.0.1:%d" % self.bport})
        samples = []
        t_first = m_first = t_assigned = None
        t_end = None
        errors = set()
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = time.time()
            rows = q(c, "SELECT count(*), coalesce(sum(next_offset), 0), string_agg(DISTINCT last_error, '; '),"
                        "       (SELECT buffers_backend FROM pg_stat_bgwriter)"
                        "  FROM f1tel.kafka_offsets WHERE group_id = %s", (group,))
            nparts, total, err, bufs_backend = rows[0]
            total = int(total)
            if err:
                errors.add(err)
                if "AUTO_OFFSET_RESET" in err:
                    die("%s: data lost to retention: %s" % (label, err))
            if t_assigned is None and nparts > 0:
                t_assigned = t
            if total > 0 and t_first is None:
                t_first, m_first = t, total
                cpu0 = {p: proc_cpu_secs(p) for p in pids}
                mcpu0 = machine_cpu()
            samples.append((t, total, sum(proc_cpu_secs(p) or 0 for p in pids), proc_cpu_secs(self.broker.pid) or 0,
                            dict(waits), bufs_backend))
            if t_first is not None:
                for st, wt, we in q(c, "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                                       " WHERE backend_type = 'f1tel ingest'"):
                    k = "CPU (no wait event)" if wt is None else "%s:%s" % (wt, we)
                    waits[k] = waits.get(k, 0) + 1
            for p in pids:
                an, sh = proc_mem_kb(p)
                anon_peak[p] = max(anon_peak[p], an or 0)
                shm_peak[p] = max(shm_peak[p], sh or 0)
            if total >= n_expect:
                t_end = t
                break
            time.sleep(0.025)
        if t_end is None:
            die("%s: not complete after %d s (%d of %d messages)" % (label, timeout, samples[-1][1] if samples else 0,
                                                                    n_expect))
        hwm = {pid: vmhwm_kb(pid) for pid in worker_pids(c)}
        anon_end = [anon_breakdown_kb(p) for p in pids]
        cpu_secs = [proc_cpu_secs(p) - cpu0[p] for p in pids
                    if cpu0.get(p) is not None and proc_cpu_secs(p) is not None]
        cpu = [x / max(0.001, t_end - t_first) for x in cpu_secs]
        mcpu1 = machine_cpu()
        busy = (mcpu1[0] - mcpu0[0]) / float(max(1, mcpu1[1] - mcpu0[1]))
        prof = self.stop_perf(perf_p) if perf_p else None
        # exactness: every table has its expected row count
        got = {}
        for ep in ENDPOINTS:
            got[ep] = q1(c, "SELECT count(*) FROM f1tel.%s" % ep)
        dead = q1(c, "SELECT count(*) FROM f1tel.dead_letters")
        bad = {ep: (got[ep], expect_rows[ep]) for ep in ENDPOINTS if got[ep] != expect_rows[ep]}
        if bad or dead != expect_dead:
            die("%s: row counts differ (got, expected): %s; dead letters %d, expected %d"
                % (label, bad, dead, expect_dead))
        if expect_rows.get("laps"):
            dl = q1(c, "SELECT count(*) FROM f1tel.driver_laps")
            if dl != expect_rows["laps"]:
                die("%s: driver_laps has %d rows, laps %d" % (label, dl, expect_rows["laps"]))
        r = {"workers": workers, "msgs": n_expect, "secs_from_enable": t_end - t_enable,
             "join_secs": (t_assigned or t_first) - t_enable, "secs_first_to_last": t_end - t_first,
             "first_commit_msgs": m_first,
             "rate": (n_expect - m_first) / (t_end - t_first) if t_end > t_first else None,
             "rate_from_enable": n_expect / (t_end - t_enable),
             "vmhwm_kb": sorted(v for v in hwm.values() if v is not None),
             "rss_anon_peak_kb": sorted(anon_peak.values()), "rss_shmem_peak_kb": sorted(shm_peak.values()),
             "anon_at_end_kb": anon_end,
             "worker_cpu": cpu, "machine_busy": busy, "loadavg_before": load0,
             "worker_cpu_us_per_msg": sum(cpu_secs) / max(1, n_expect - m_first) * 1e6 if cpu_secs else None,
             "wait_events": sorted(([k, v / float(max(1, sum(waits.values())))] for k, v in waits.items()),
                                   key=lambda x: -x[1]),
             "errors": sorted(errors), "samples": samples}
        if prof:
            r["perf"] = prof
        r["rows"] = sum(expect_rows.values())
        r["rows_rate"] = r["rate"] * r["rows"] / float(n_expect) if r["rate"] else None
        if after:
            after(c, r)
        c.close()
        log("%s: %d worker(s), %.0f msgs/s first to last commit (%.1f s; %.0f msgs/s with the %.1f s group join),"
            " counts exact; worker VmHWM %s MB (private peak %s MB), worker CPU %s (%.1f us/msg), machine busy %.0f%%, load %.1f;"
            " worker samples: %s"
            % (label, workers, r["rate"] or 0, r["secs_first_to_last"], r["rate_from_enable"], r["join_secs"],
               "/".join(str(v // 1024) for v in r["vmhwm_kb"]),
               "/".join(str(v // 1024) for v in r["rss_anon_peak_kb"]),
               "/".join("%.0f%%" % (x * 100) for x in cpu), r["worker_cpu_us_per_msg"] or 0, busy * 100, load0,
               ", ".join("%s %.0f%%" % (k, v * 100) for k, v in r["wait_events"][:4])))
        return r

    def start_perf(self, pid, wait=0.3):
        if not self.a.perf:
            return None
        out = os.path.join(self.tmp, "perf-%d.data" % pid)
        try:
            p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "-o", out, "-p", str(pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            return None
        PROCS.append(("perf", p))
        time.sleep(wait)
        return (p, out)

    def stop_perf(self, pp):
        p, out = pp
        stop_proc(p, sig=signal.SIGINT, wait=30)
        prof = {}
        for sort in ("dso", "sym"):
            r = subprocess.run(["perf", "report", "-i", out, "--stdio", "--sort", sort, "--percent-limit", "1.5"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
            lines = []
            for line in r.stdout.splitlines():
                m = re.match(r"\s*([\d.]+)%\s+(.*)$", line)
                if m:
                    lines.append([float(m.group(1)), re.sub(r"\s+", " ", m.group(2)).strip()])
            prof[sort] = lines[:25]
        return prof

    def ingest_runs(self):
        r1, r2 = [], []
        exported = False
        for i in range(self.a.runs):
            for w, lst in ((1, r1), (2, r2))[:self.a.max_workers]:
                r = self.ingest_run(w, "f1tel ingest run %d" % (i + 1), expect_msgs=self.main_msgs,
                                    expect_rows=self.main_rows, expect_dead=self.main_dead)
                lst.append(r)
                if not exported:
                    self.export_csv()
                    exported = True
        self.res["runs"]["f1tel_1w"] = r1
        self.res["runs"]["f1tel_2w"] = r2

    # -- 2b. the cost of the per-lap telemetry (car_data -> driver_laps)
    def telemetry_stats(self, telemetry, label):
        """after-hook of a telemetry run: what driver_laps holds, the versions written, the check"""
        def after(c, r):
            (nrows, samples, with_samples, versions, updated) = q(c, """
                SELECT count(*), coalesce(sum(samples), 0), count(*) FILTER (WHERE samples > 0),
                       coalesce(sum(version), 0), count(*) FILTER (WHERE version > 1)
                  FROM f1tel.driver_laps""")[0]
            ins, upd = q(c, "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables"
                            " WHERE relid = 'f1tel.driver_laps'::regclass")[0]
            changes = q1(c, "SELECT count(*) FROM f1tel.changes WHERE table_name = 'driver_laps'")
            t0 = time.time()
            v_samples, v_with = q(c, "SELECT coalesce(sum(samples), 0), count(*) FILTER (WHERE samples > 0)"
                                     "  FROM f1tel.driver_laps_v")[0]
            enabled = q(c, "SELECT string_agg(tgname || '=' || tgenabled::text, ', ' ORDER BY tgname) FROM pg_trigger"
                           " WHERE tgrelid = 'f1tel.car_data'::regclass AND NOT tgisinternal")
            r.update({"telemetry": telemetry, "driver_laps": nrows, "dl_samples": int(samples),
                      "laps_with_samples": with_samples, "view_samples": int(v_samples),
                      "view_laps_with_samples": v_with, "versions": int(versions),
                      "rows_updated": updated, "stat_tup_ins": ins, "stat_tup_upd": upd,
                      "changes": changes, "car_data_triggers": enabled[0][0] if enabled else None,
                      "view_secs": time.time() - t0, "car_data_msgs": self.main_msgs["car_data"]})
            # the check: with the triggers every sample is counted in its lap (as the view says);
            # without them driver_laps has only what other inputs' recomputations saw, which is
            # everything when a lap's car_data all came before its laps/position/... rows (the
            # order of arrival decides): so OFF is checked by the triggers' state, not the counts
            if telemetry and (samples != v_samples or samples == 0 or with_samples != v_with):
                die("%s: driver_laps counts %d samples in %d laps, its definition %d in %d"
                    % (label, samples, with_samples, v_samples, v_with))
            off = [t for t in TELEMETRY_TRIGGERS if "%s=D" % t not in (enabled[0][0] if enabled and enabled[0][0] else "")]
            if not telemetry and (off or v_samples == 0):
                die("%s: car_data triggers not disabled (%s) or no samples in the definition (%d)"
                    % (label, enabled[0][0] if enabled else "?", v_samples))
        return after

    def telemetry_runs(self):
        """1 worker, the same backlog, triggers on car_data enabled (the default) and disabled,
        interleaved: on, off, on, off, ..."""
        on, off = [], []
        for i in range(self.a.telemetry_runs):
            for telemetry, lst in ((True, on), (False, off)):
                label = "telemetry %s run %d" % ("on " if telemetry else "off", i + 1)
                sql = () if telemetry else ["ALTER TABLE f1tel.car_data DISABLE TRIGGER %s" % t
                                            for t in TELEMETRY_TRIGGERS]
                r = self.ingest_run(1, label, expect_msgs=self.main_msgs, expect_rows=self.main_rows,
                                    expect_dead=self.main_dead, db_sql=sql,
                                    after=self.telemetry_stats(telemetry, label))
                r.pop("samples", None)
                lst.append(r)
                log("%s: %.0f rows/s, %.1f us of worker CPU per message; driver_laps: %d samples in %d of %d laps"
                    " (definition: %d in %d), %d versions written (%d rows updated; pg_stat n_tup_upd %d),"
                    " car_data triggers %s"
                    % (label, r["rows_rate"] or 0, r["worker_cpu_us_per_msg"] or 0, r["dl_samples"],
                       r["laps_with_samples"], r["driver_laps"], r["view_samples"], r["view_laps_with_samples"],
                       r["versions"], r["rows_updated"], r["stat_tup_upd"], r["car_data_triggers"]))
        self.res["runs"]["telemetry_on"] = on
        self.res["runs"]["telemetry_off"] = off

    # -- 1b. COPY
    def export_csv(self):
        c = connect("bench")
        os.makedirs(os.path.join(self.tmp, "csv"), exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(os.path.join(self.tmp, "csv"), "postgres")
        self.csv_cols = {}
        t0 = time.time()
        for ep in ENDPOINTS:
            cols = [r[0] for r in q(c, """SELECT attname FROM pg_attribute
                   WHERE attrelid = ('f1tel.' || %s)::regclass AND attnum > 0 AND NOT attisdropped
                     AND attname NOT IN ('ingested_at', 'id') ORDER BY attnum""", (ep,))]
            self.csv_cols[ep] = cols
            q(c, "COPY (SELECT %s FROM f1tel.%s) TO '%s' WITH (FORMAT csv)"
              % (", ".join(cols), ep, os.path.join(self.tmp, "csv", ep + ".csv")))
        c.close()
        log("CSV of the ingested rows written (%.1f s)" % (time.time() - t0))

    def copy_run(self, triggers, telemetry=True):
        fresh_db("copydb")
        c = connect("copydb")
        if not telemetry:
            for t in TELEMETRY_TRIGGERS:
                q(c, "ALTER TABLE f1tel.car_data DISABLE TRIGGER %s" % t)
        q(c, "CHECKPOINT")
        c.autocommit = False
        if not triggers:
            q(c, "SET session_replication_role = replica")
        bpid = c.get_backend_pid()
        cpu0 = proc_cpu_secs(bpid)
        t0 = time.time()
        for ep in COPY_ORDER:
            q(c, "COPY f1tel.%s (%s) FROM '%s' WITH (FORMAT csv)"
              % (ep, ", ".join(self.csv_cols[ep]), os.path.join(self.tmp, "csv", ep + ".csv")))
        c.commit()
        secs = time.time() - t0
        cpu1 = proc_cpu_secs(bpid)
        rows = sum(self.main_rows.values())
        dl, samples = q(c, "SELECT count(*), coalesce(sum(samples), 0) FROM f1tel.driver_laps")[0]
        c.close()
        if triggers and dl != self.main_rows["laps"]:
            die("COPY with triggers: driver_laps has %d rows, expected %d" % (dl, self.main_rows["laps"]))
        # car_data is copied last: with its triggers the laps count its samples, without none does
        if triggers and (samples == 0) == telemetry:
            die("COPY with triggers, telemetry %s: driver_laps counts %d samples" % (telemetry, samples))
        r = {"triggers": triggers, "telemetry": telemetry and triggers, "rows": rows, "secs": secs,
             "rate": rows / secs, "driver_laps": dl, "samples": int(samples),
             "cpu_us_per_row": (cpu1 - cpu0) / rows * 1e6 if cpu0 is not None and cpu1 is not None else None}
        log("COPY triggers %s: %.0f rows/s (%d rows in %.2f s; %.1f us of backend CPU per row; driver_laps %d samples)"
            % (("on " if telemetry else "on, car_data's off") if triggers else "off", r["rate"], rows, secs,
               r["cpu_us_per_row"] or 0, samples))
        return r

    def copy_runs(self):
        on, off, notel = [], [], []
        for i in range(self.a.runs):
            on.append(self.copy_run(True))
            notel.append(self.copy_run(True, telemetry=False))
            off.append(self.copy_run(False))
        self.res["runs"]["copy_on"] = on
        self.res["runs"]["copy_on_no_telemetry"] = notel
        self.res["runs"]["copy_off"] = off
        c = connect()
        q(c, "DROP DATABASE IF EXISTS copydb WITH (FORCE)")
        c.close()

    # -- 3. the Python peer on the subset
    def peer_runs(self):
        f1, peer = [], []
        for i in range(self.a.runs):
            if self.budget_left() < 300 and i >= 1:
                self.res["notes"].append("peer comparison: %d run(s) only (time budget)" % i)
                break
            f1.append(self.ingest_run(1, "f1tel subset run %d" % (i + 1), topics=self.sub_topics,
                                      expect_msgs=self.sub_msgs, expect_rows=self.sub_rows,
                                      expect_dead=self.sub_dead))
            peer.append(self.peer_ingest(i))
        self.res["runs"]["subset_f1tel_1w"] = f1
        self.res["runs"]["subset_peer"] = peer

    def peer_ingest(self, i):
        fresh_db("peer")
        c = connect("peer")
        q(c, "CHECKPOINT")
        self.group_n += 1
        cmd = [PY, os.path.join(HERE, "peer_ingest.py"), "--brokers", "127.0.0.1:%d" % self.bport,
               "--dsn", "host=127.0.0.1 port=%d user=postgres dbname=peer" % CLUSTER["port"],
               "--group", "bench-peer-%d" % self.group_n, "--expect", str(self.n_sub), "--timeout", "240"]
        for ep, t in self.sub_topics.items():
            cmd += ["--topic", "%s=%s" % (t, ep)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if r.returncode != 0:
            die("peer_ingest: %s %s" % (r.stdout, r.stderr[-1500:]))
        out = json.loads(r.stdout)
        got = {ep: q1(c, "SELECT count(*) FROM f1tel.%s" % ep) for ep in ENDPOINTS}
        bad = {ep: (got[ep], self.sub_rows[ep]) for ep in ENDPOINTS if got[ep] != self.sub_rows[ep]}
        if bad:
            die("peer: row counts differ: %s" % bad)
        c.close()
        out["rate"] = (out["msgs"] - out["first_commit_msgs"]) / (out["t_last_commit"] - out["t_first_commit"])
        out["secs_first_to_last"] = out["t_last_commit"] - out["t_first_commit"]
        if out.get("backend_cpu_secs") is not None:
            out["cpu_us_per_msg"] = (out["cpu_secs"] + out["backend_cpu_secs"]) / out["msgs"] * 1e6
        log("Python peer run %d: %.0f msgs/s first to last commit (%.1f s), counts exact; %.1f us CPU per msg"
            " (Python %.1f s + its backend %.1f s, start-up included)"
            % (i + 1, out["rate"], out["secs_first_to_last"], out.get("cpu_us_per_msg") or 0, out["cpu_secs"],
               out.get("backend_cpu_secs") or 0))
        return out

    # -- 5. push
    def push_runs(self):
        """The sink against the seed's sync script (google-cloud-bigquery), both against the local
        BigQuery server answering each insertAll --bq-latency-ms late (BigQuery's request latency,
        modelled without any lock held: concurrent requests overlap).  The server is bq_timed.py
        (server.py + a log of acknowledgement times) for the commit -> ack latency of run 1."""
        self.ingest_run(1, "push backlog ingest", topics=self.push_topics, expect_msgs=self.push_msgs,
                        expect_rows=self.push_rows, expect_dead=self.push_dead)
        port = free_port()
        self.push_acklog = os.path.join(self.tmp, "push_acks.tsv")
        env = dict(os.environ, F1TEL_DATA=self.data, BENCH_ACK_LOG=self.push_acklog)
        lat = self.a.bq_latency_ms
        self.bq = start_proc("bigquery server", [PY, os.path.join(HERE, "bq_timed.py"), "--port", str(port),
                                                 "--quiet", "--insert-latency-ms", str(lat)], ready=r"ready", env=env)
        url = "http://127.0.0.1:%d" % port
        n_rows = self.push_rows["laps"] + self.push_rows["race_control"]
        self.bq_py = bq_python()
        if self.bq_py is None:
            self.res["missing"].append("push: the google-cloud-bigquery peer (no python has the client: run "
                                       "test/install-deps.sh's f1tel_install_bq_python or set F1TEL_BQ_PYTHON)")
        f1, gc, peer = [], [], []
        for i in range(self.a.runs):
            f1.append(self.push_f1tel(url, i, n_rows, live=(i == 0)))
            if self.bq_py:
                gc.append(self.push_gcbq(url, i, n_rows))
            if self.a.push_http_peer:
                peer.append(self.push_peer(url, i, n_rows))
        self.res["runs"]["push_f1tel"] = f1
        self.res["runs"]["push_gcbq"] = gc
        if peer:
            self.res["runs"]["push_peer"] = peer
        if f1 and f1[0].get("live"):
            self.res["runs"]["push_live"] = f1[0].pop("live")
        # the server's own limit, without the modelled latency: what it can take at most
        bq_hook(url, "/_latency", {"insert_all_ms": 0})
        self.res["runs"]["push_limit"] = [self.push_peer(url, 9, n_rows, limit=4)]
        bq_hook(url, "/_latency", {"insert_all_ms": lat})
        stop_proc(self.bq)
        c = connect("bench")
        sink = dict(q(c, "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN ('f1tel.bigquery_batch_rows', "
                         "'f1tel.bigquery_batch_bytes', 'f1tel.bigquery_concurrency', "
                         "'f1tel.sink_flush_interval_ms')"))
        for k in PUSH_SINK_SETTINGS:
            q(c, "ALTER SYSTEM RESET %s" % k)
        q(c, "SELECT pg_reload_conf()")
        c.close()
        self.res["settings"]["push"] = (
            "local BigQuery server (bq_timed.py = test/bigquery/server.py + an ack log) with "
            "--insert-latency-ms %g (each insertAll answered that long after it arrived, no lock held); the sink: "
            "bigquery_batch_rows %s, bigquery_batch_bytes %s, bigquery_concurrency %s, sink_flush_interval_ms %s, "
            "5,000 changes per round (ROUND_SIZE, src/sink/worker.c)%s; the peer: peer_push_gcbq.py, %s, insert_rows_json of 1,000 rows, one at "
            "a time, polling every %g s; commit -> ack: %g rows/s for %g s in commits of %d laps (UPDATE f1tel.laps), "
            "the sink caught up" % (lat, sink.get("f1tel.bigquery_batch_rows"), sink.get("f1tel.bigquery_batch_bytes"),
                                    sink.get("f1tel.bigquery_concurrency"), sink.get("f1tel.sink_flush_interval_ms"),
                                    "; --push-sink-set %s" % self.a.push_sink_set if self.a.push_sink_set else "",
                                    (gc[0].get("client") if gc else "google-cloud-bigquery missing"),
                                    self.a.peer_poll_s, self.a.push_live_rate, self.a.push_live_secs, LIVE_PER_COMMIT))

    def push_f1tel(self, url, i, n_rows, live=False):
        c = connect("bench")
        ds = "f1tel_run%d" % (i + 1)
        t0 = time.time()
        settings = {"f1tel.bigquery_project": "bench", "f1tel.bigquery_dataset": ds,
                    "f1tel.bigquery_endpoint": url, "f1tel.bigquery_credentials": "none"}
        settings.update(PUSH_SINK_SETTINGS)
        ack_off = os.path.getsize(self.push_acklog)
        alter_system(settings)
        t_sub = t_end = None
        sink_hwm = None
        sink_anon = 0
        perf_p = None
        sink_cpu = None
        waits = {}
        deadline = time.time() + 180
        while time.time() < deadline:
            r = q(c, "SELECT pending, subscribed_at FROM f1tel.change_backlog WHERE subscriber = 'bigquery'")
            pids = worker_pids(c, "f1tel sink")
            if pids:
                if i == 0 and perf_p is None:
                    perf_p = self.start_perf(pids[0], wait=0) or False
                sink_hwm = vmhwm_kb(pids[0]) or sink_hwm
                sink_anon = max(sink_anon, proc_mem_kb(pids[0])[0] or 0)
                sink_cpu = proc_cpu_secs(pids[0]) or sink_cpu
                for wt, we in q(c, "SELECT wait_event_type, wait_event FROM pg_stat_activity"
                                   " WHERE backend_type = 'f1tel sink'"):
                    k = "no wait event (CPU, or in libcurl)" if wt is None else "%s:%s" % (wt, we)
                    waits[k] = waits.get(k, 0) + 1
            if r and t_sub is None:
                t_sub = time.time()
            if r and r[0][0] == 0:
                t_end = time.time()
                break
            time.sleep(0.025)
        if t_end is None:
            die("push: the sink did not empty its backlog in 180 s")
        prof = self.stop_perf(perf_p) if perf_p else None
        pushed, dead = q(c, "SELECT rows_pushed, dead_letters FROM f1tel.sink_status WHERE sink = 'bigquery'")[0]
        if pushed != n_rows or dead:
            die("push: sink_status says %d rows pushed (%d dead), expected %d" % (pushed, dead, n_rows))
        time.sleep(0.1)
        shape = self.push_shape(ack_off)
        live_r = self.push_live(c) if live else None
        alter_system({"f1tel.bigquery_project": ""})
        wait_for(lambda: not worker_pids(c, "f1tel sink"), 20)
        q(c, "SELECT f1tel.unsubscribe('bigquery')")
        q(c, "DELETE FROM f1tel.sink_status")
        c.close()
        r = {"rows": n_rows, "secs": t_end - t0, "rate": n_rows / (t_end - t0), "vmhwm_kb": sink_hwm,
             "rss_anon_peak_kb": sink_anon, "secs_to_subscribed": (t_sub or t_end) - t0,
             "rate_after_subscribed": n_rows / (t_end - t_sub) if t_sub and t_end > t_sub else None}
        if prof:
            r["perf"] = prof
        if live_r:
            r["live"] = live_r
        r.update(shape)
        r["sink_cpu_secs"] = sink_cpu
        r["sink_cpu_share"] = sink_cpu / (t_end - t0) if sink_cpu else None
        r["sink_wait_events"] = sorted(([k, v / float(max(1, sum(waits.values())))] for k, v in waits.items()),
                                       key=lambda kv: -kv[1])
        log("f1tel sink push run %d: %.0f rows/s (%d rows in %.2f s from the reload; %.0f rows/s after subscribe()),"
            " sink VmHWM %s MB (private peak %s MB); %d insertAll in %s rounds of ~%.0f rows every %s ms, %.1f in"
            " flight on average, none in flight %.0f%% of the time from the first request to the last ack; sink CPU"
            " %.0f%% of the time (%s)"
            % (i + 1, r["rate"], n_rows, r["secs"], r["rate_after_subscribed"] or 0, (sink_hwm or 0) // 1024,
               sink_anon // 1024, shape["requests"], shape.get("rounds"), shape.get("rows_per_round") or 0,
               "%.0f" % shape["round_period_ms"] if shape.get("round_period_ms") else "?",
               shape["mean_in_flight"], shape["idle_share"] * 100, (r["sink_cpu_share"] or 0) * 100,
               ", ".join("%s %.0f%%" % (k, v * 100) for k, v in r["sink_wait_events"][:3])))
        return r

    def push_shape(self, off):
        """How the sink's requests filled its push, from the ack log past off: each request's rows
        share one ack time, and a request was in flight for about --bq-latency-ms before it (the
        server answers that long after a request arrives, its own work hidden in it)."""
        acks = {}
        with open(self.push_acklog) as fh:
            fh.seek(off)
            for line in fh:
                t = line.rstrip("\n").rpartition("\t")[2]
                acks[t] = acks.get(t, 0) + 1
        ts = sorted(float(t) for t in acks)
        L = self.a.bq_latency_ms / 1000.0
        if not ts or L <= 0:
            return {"requests": len(ts), "mean_in_flight": 0.0, "idle_share": 0.0}
        start, end = ts[0] - L, ts[-1]
        busy, cur_s, cur_e = 0.0, None, None
        for t in ts:
            if cur_e is None or t - L > cur_e:
                if cur_e is not None:
                    busy += cur_e - cur_s
                cur_s, cur_e = t - L, t
            else:
                cur_e = max(cur_e, t)
        busy += cur_e - cur_s
        span = max(end - start, 1e-9)
        # rounds (read, push, ack): the waves of one round are ~L apart, rounds further
        firsts = [ts[0]] + [b for a_, b in zip(ts, ts[1:]) if b - a_ > 1.5 * L]
        return {"requests": len(ts), "mean_rows_per_request": sum(acks.values()) / float(len(ts)),
                "mean_in_flight": len(ts) * L / span, "idle_share": 1 - busy / span, "push_span_secs": span,
                "rounds": len(firsts), "rows_per_round": sum(acks.values()) / float(len(firsts)),
                "round_period_ms": (firsts[-1] - firsts[0]) / (len(firsts) - 1) * 1000 if len(firsts) > 1 else None}

    def push_live(self, c):
        """commit -> BigQuery ack with the sink caught up: commits of LIVE_PER_COMMIT laps at
        --push-live-rate rows/s for --push-live-secs (UPDATE f1tel.laps, so the triggers write new
        driver_laps versions); a change's latency is from its COMMIT returning to the server
        answering the insertAll that carried it (bq_timed.py's log, after the modelled latency)."""
        rate, secs = float(self.a.push_live_rate), float(self.a.push_live_secs)
        n_commits = max(1, int(rate * secs / LIVE_PER_COMMIT))
        interval = LIVE_PER_COMMIT / rate
        w = connect("bench", autocommit=False)
        keys = q(w, "SELECT session_key, driver_number, lap_number FROM f1tel.laps ORDER BY random() LIMIT %s",
                 (n_commits * LIVE_PER_COMMIT,))
        w.commit()
        off = os.path.getsize(self.push_acklog)
        commits = {}
        behind = 0
        t0 = time.time()
        for j in range(n_commits):
            ks = tuple(keys[j * LIVE_PER_COMMIT:(j + 1) * LIVE_PER_COMMIT])
            if not ks:
                break
            wait = t0 + j * interval - time.time()
            if wait > 0:
                time.sleep(wait)
            else:
                behind += 1
            with w.cursor() as cur:
                cur.execute("UPDATE f1tel.laps SET lap_duration = coalesce(lap_duration, 90) + 0.001"
                            " WHERE (session_key, driver_number, lap_number) IN %s", (ks,))
                cur.execute("SELECT session_key, driver_number, lap_number, version FROM f1tel.driver_laps"
                            " WHERE (session_key, driver_number, lap_number) IN %s", (ks,))
                got = cur.fetchall()
            w.commit()
            tc = time.time()
            for s, d, lap, v in got:
                commits["driver_laps:%d:%d:%d:v%d" % (s, d, lap, v)] = tc
        write_secs = time.time() - t0
        w.close()
        wait_for(lambda: q1(c, "SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'"), 30, 0.05)
        time.sleep(0.3)
        acks = {}
        with open(self.push_acklog) as fh:
            fh.seek(off)
            for line in fh:
                iid, _, t = line.rstrip("\n").partition("\t")
                if iid in commits and iid not in acks:
                    acks[iid] = float(t)
        lat = [(acks[k] - commits[k]) * 1000 for k in acks]
        s = {"n": len(lat), "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
             "max": max(lat) if lat else None, "changes": len(commits), "unacked": len(commits) - len(acks),
             "commits": n_commits, "rows_per_commit": LIVE_PER_COMMIT, "target_rate": rate,
             "rate": len(commits) / write_secs if write_secs else None, "write_secs": write_secs,
             "commits_behind_schedule": behind, "bq_latency_ms": self.a.bq_latency_ms}
        if lat:
            log("push commit -> BigQuery ack (%g ms per insertAll, %.0f rows/s in commits of %d): n=%d p50 %.1f ms,"
                " p95 %.1f, p99 %.1f, max %.1f%s" % (self.a.bq_latency_ms, s["rate"], LIVE_PER_COMMIT, s["n"], s["p50"],
                                                    s["p95"], s["p99"], s["max"],
                                                    "; %d changes never acked" % s["unacked"] if s["unacked"] else ""))
        else:
            log("push commit -> BigQuery ack: no samples (%d changes written)" % len(commits))
        return s

    def push_gcbq(self, url, i, n_rows):
        time.sleep(0.5)
        cmd = [self.bq_py, os.path.join(HERE, "peer_push_gcbq.py"),
               "--dsn", "host=127.0.0.1 port=%d user=postgres dbname=bench" % CLUSTER["port"],
               "--endpoint", url, "--project", "bench", "--dataset", "gcbq_run%d" % (i + 1),
               "--schema-from", "f1tel_run1", "--batch", "1000", "--poll-s", str(self.a.peer_poll_s),
               "--exit-when-idle"]
        w0 = time.time()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        if r.returncode != 0:
            die("peer_push_gcbq: %s %s" % (r.stdout[-500:], r.stderr[-1500:]))
        # the launcher waits 2 s before starting a sink that stopped
        time.sleep(max(0, 2.2 - (time.time() - w0)))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        if out["rows"] != n_rows:
            die("peer_push_gcbq posted %d rows, expected %d" % (out["rows"], n_rows))
        log("the seed's sync script (%s) run %d: %.0f rows/s (%d rows, %d requests of %d, %.2f s; insert_rows_json"
            " p50 %.0f ms, p99 %.0f ms, %.1f s in all; PostgreSQL + rows %.1f s)"
            % (out["client"], i + 1, out["rate"], out["rows"], out["requests"], out["batch"], out["secs"],
               out["insert_p50_ms"], out["insert_p99_ms"], out["insert_secs"], out["pg_and_rows_secs"]))
        return out

    def push_peer(self, url, i, n_rows, limit=0):
        time.sleep(0.5)
        cmd = [PY, os.path.join(HERE, "peer_push.py"),
               "--dsn", "host=127.0.0.1 port=%d user=postgres dbname=bench" % CLUSTER["port"],
               "--endpoint", url, "--project", "bench", "--dataset", "peer_run%d" % (i + 1),
               "--schema-from", "f1tel_run1", "--batch", "500", "--limit", str(limit)]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if r.returncode != 0:
            die("peer_push: %s %s" % (r.stdout, r.stderr[-1500:]))
        out = json.loads(r.stdout)
        if out["rows"] != n_rows:
            die("peer_push posted %d rows, expected %d" % (out["rows"], n_rows))
        log("%s: %.0f rows/s (%d rows, %d requests, %.2f s)"
            % ("the BigQuery server's own limit (prebuilt bodies, %d connections)" % limit if limit
               else "Python push peer run %d" % (i + 1), out["rate"], out["rows"], out["requests"], out["secs"]))
        # the launcher waits 2 s before starting a sink that stopped
        time.sleep(max(0, 2.2 - out["secs"]))
        return out

    # -- 4. latency at live pace
    def make_slice(self):
        src = os.path.join(self.data, "9189")
        dst = os.path.join(self.tmp, "slice", "9189")
        os.makedirs(dst, exist_ok=True)
        lo = "2023-11-19T06:%02d:00" % self.a.slice_start
        hi = "2023-11-19T06:%02d:00" % (self.a.slice_start + self.a.slice_minutes)
        n = {}
        for ep in ENDPOINTS:
            recs = load_records(src, ep)
            if recs is None:
                continue
            if ep in UNTIMED:
                keep = recs
            else:
                f = "date_start" if ep == "laps" else "date"
                keep = [r for r in recs if r.get(f) and lo <= r[f][:19] < hi]
            n[ep] = len(keep)
            with open(os.path.join(dst, ep + ".json"), "w") as fh:
                json.dump(keep, fh, separators=(",", ":"))
        return dst, n, lo, hi

    def latency_runs(self):
        self.latency_run()
        if self.a.latency_telemetry_off:
            self.latency_run(telemetry=False)

    def latency_run(self, telemetry=True):
        sdir, n, lo, hi = self.make_slice()
        lport = free_port()
        lbroker = start_proc("live broker", ["f1tel-broker", "--port", str(lport), "--partitions", "4"],
                             ready=r"ready")
        bqport = free_port()
        acklog = os.path.join(self.tmp, "acks.tsv")
        env = dict(os.environ, F1TEL_DATA=self.data, BENCH_ACK_LOG=acklog)
        bq = start_proc("bigquery server (timed)", [PY, os.path.join(HERE, "bq_timed.py"), "--port", str(bqport),
                                                    "--quiet"], ready=r"ready", env=env)
        group = "bench-live" if telemetry else "bench-live-off"
        settings = {"f1tel.ingest_workers": 1, "f1tel.brokers": "127.0.0.1:%d" % lport, "f1tel.group_id": group,
                    "f1tel.batch_wait_ms": 0, "f1tel.bigquery_project": "bench" if self.a.latency_sink else "",
                    "f1tel.bigquery_dataset": "live",
                    "f1tel.bigquery_endpoint": "http://127.0.0.1:%d" % bqport,
                    "f1tel.bigquery_credentials": "none"}
        for ep in ENDPOINTS:
            settings["f1tel.topic_" + ep] = DEFAULT_TOPICS[ep]
        # the running worker first lets go of its partitions (see ingest_run), then the new
        # settings take effect with the restart
        log_at = log_size()
        alter_system({"f1tel.brokers": "127.0.0.1:1", "f1tel.group_id": group})
        wait_log(log_at, 'consuming from 127.0.0.1:1 as group "%s"' % group, 20)
        fresh_db("bench")
        if not telemetry:
            d = connect("bench")
            for t in TELEMETRY_TRIGGERS:
                q(d, "ALTER TABLE f1tel.car_data DISABLE TRIGGER %s" % t)
            d.close()
        alter_system(settings, reload=False)
        pctl("restart", "-m", "fast")
        c = connect("bench")
        nparts = 4 * len(ENDPOINTS)
        if not wait_for(lambda: q1(c, "SELECT count(*) FROM f1tel.kafka_offsets WHERE group_id = %s",
                                   (group,)) >= nparts, 40, 0.1):
            die("live run: the ingest worker was not assigned its partitions")
        if self.a.latency_sink:
            wait_for(lambda: q(c, "SELECT 1 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'"), 20, 0.1)
        pollout = os.path.join(self.tmp, "poll.jsonl")
        poller = start_proc("poller", [PY, os.path.join(HERE, "latency_poll.py"), "--dsn",
                                       "host=127.0.0.1 port=%d user=postgres dbname=bench" % CLUSTER["port"],
                                       "--group", group, "--out", pollout, "--interval", "0.002",
                                       "--max-secs", "200"])
        kout = os.path.join(self.tmp, "kafka_latency.txt")
        kcons = start_proc("live consumer", [PY, os.path.join(HERE, "live_consumer.py"), "--brokers",
                                             "127.0.0.1:%d" % lport, "--out", kout] + list(DEFAULT_TOPICS.values()),
                           ready=r"ready")
        time.sleep(1.0)
        log("live pace: f1tel-feed --speed %s of 9189 %s..%s UTC (%s), linger.ms=0"
            % (self.a.speed, lo[11:16], hi[11:16], ", ".join("%s %d" % kv for kv in sorted(n.items()))))
        t0 = time.time()
        feed(lport, [sdir], speed=self.a.speed, extra=["-X", "linger.ms=0"],
             timeout=self.a.slice_minutes * 60 / float(self.a.speed) + 60)
        feed_secs = time.time() - t0
        wm = watermarks(lport, list(DEFAULT_TOPICS.values()))
        total = sum(hi_ for lo_, hi_ in wm.values())
        wait_for(lambda: q1(c, "SELECT coalesce(sum(next_offset), 0) FROM f1tel.kafka_offsets WHERE group_id = %s",
                            (group,)) >= total, 30, 0.1)
        if self.a.latency_sink:
            wait_for(lambda: q1(c, "SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'"),
                     30, 0.1)
        time.sleep(0.3)
        stop_proc(poller)
        stop_proc(kcons)
        hwm_sink = [vmhwm_kb(p) for p in worker_pids(c, "f1tel sink")]
        dl_rows, dl_versions = q(c, "SELECT count(*), coalesce(sum(version), 0) FROM f1tel.driver_laps")[0]
        n_changes = q1(c, "SELECT count(*) FROM f1tel.changes WHERE table_name = 'driver_laps'")
        alter_system({"f1tel.bigquery_project": ""})
        c.close()
        ts = create_times(lport, list(DEFAULT_TOPICS.values()))
        stop_proc(bq)
        stop_proc(lbroker)
        log("live pace: %d messages in %.0f s of feeding; computing latencies" % (total, feed_secs))

        offs = {}
        lap_ev = []
        dl_ev = {}
        polls = 0
        with open(pollout) as fh:
            for line in fh:
                e = json.loads(line)
                if e[0] == "off":
                    offs.setdefault((e[1], e[2]), []).append((e[3], e[4], e[5]))
                elif e[0] == "lap":
                    lap_ev.append(e)
                elif e[0] == "dl":
                    dl_ev[(e[1], e[2], e[3], e[4])] = e[5]
                elif e[0] == "polls":
                    polls = e[1]
        lat_topic = {}
        worst_msgs = []
        for (topic, part), evs in offs.items():
            for a_, b_, t in evs:
                for o in range(a_, b_):
                    ct = ts.get((topic, part, o))
                    if ct is not None:
                        lat_topic.setdefault(topic, []).append((t - ct) * 1000)
                        worst_msgs.append((round((t - ct) * 1000, 1), round(ct - t0, 3), topic))
        worst_msgs = sorted(worst_msgs, reverse=True)[:10]
        lat_laps = []
        lap_msg = {}
        for _, part, off, s, d, lap, t in lap_ev:
            ct = ts.get(("f1_laps", part, off))
            if ct is not None:
                lat_laps.append((t - ct) * 1000)
                lap_msg[(s, d, lap)] = ct
        dl_first = {}
        for (s, d, lap, v), t in dl_ev.items():
            dl_first[(s, d, lap)] = min(t, dl_first.get((s, d, lap), t))
        lat_dl = [(t - lap_msg[k]) * 1000 for k, t in dl_first.items() if k in lap_msg]
        series = {}
        for topic in ("f1_laps", "f1_position", "f1-race_control", "f1_drivers"):
            for (tp, part), evs in offs.items():
                if tp != topic:
                    continue
                for a_, b_, t in evs:
                    for o in range(a_, b_):
                        ct = ts.get((topic, part, o))
                        if ct is not None:
                            series.setdefault(topic, []).append((round(ct - t0, 3), round((t - ct) * 1000, 1)))
        for v in series.values():
            v.sort()
        lat_sink = []
        worst_sink = []
        if os.path.exists(acklog):
            with open(acklog) as fh:
                for line in fh:
                    iid, t = line.rstrip("\n").split("\t")
                    m = re.match(r"driver_laps:(\d+):(\d+):(\d+):v(\d+)$", iid)
                    if m:
                        k = tuple(int(x) for x in m.groups())
                        if k in dl_ev:
                            lat_sink.append((float(t) - dl_ev[k]) * 1000)
                            worst_sink.append((round(lat_sink[-1], 1), round(dl_ev[k] - t0, 3), iid))
        worst_sink = sorted(worst_sink, reverse=True)[:10]
        all_msgs = [x for v in lat_topic.values() for x in v]
        lat_kafka = []
        with open(kout) as fh:
            for line in fh:
                lat_kafka.append(float(line.split()[1]))

        def summ(xs):
            return {"n": len(xs), "p50": pct(xs, 50), "p95": pct(xs, 95), "p99": pct(xs, 99),
                    "max": max(xs) if xs else None}
        r = {"laps_rows": summ(lat_laps), "driver_laps": summ(lat_dl), "all_messages": summ(all_msgs),
             "kafka_only": summ(lat_kafka),
             "by_topic": {t: summ(v) for t, v in lat_topic.items()}, "sink_commit_to_ack": summ(lat_sink),
             "polls": polls, "poll_hz": polls / max(feed_secs, 1), "feed_secs": feed_secs, "messages": total,
             "slice": "%s..%s" % (lo, hi), "records": n, "sink_vmhwm_kb": hwm_sink,
             "worst_messages_ms_at_s": worst_msgs, "worst_sink_ms_at_s": worst_sink,
             "series_s_ms": series, "sink": self.a.latency_sink, "telemetry": telemetry,
             "driver_laps_rows": dl_rows, "driver_laps_versions": int(dl_versions),
             "driver_laps_changes": n_changes}
        log("live pace, telemetry %s: driver_laps %d rows, %d versions written (sum of version), %d changes in"
            " f1tel.changes" % ("on" if telemetry else "OFF", dl_rows, dl_versions, n_changes))
        if not telemetry:
            self.res["runs"]["latency_telemetry_off"] = r
            return
        self.res["runs"]["latency"] = r
        for k in ("kafka_only", "laps_rows", "driver_laps", "all_messages", "sink_commit_to_ack"):
            s = r[k]
            if s["n"]:
                log("latency %s: n=%d p50 %.1f ms, p95 %.1f, p99 %.1f, max %.1f"
                    % (k, s["n"], s["p50"], s["p95"], s["p99"], s["max"]))
            else:
                log("latency %s: no samples" % k)

    # -- 7. growth
    def growth_run(self):
        dirs = [os.path.join(self.data, s) for s in ("9189", "9606")]
        t0 = time.time()
        for i in range(self.a.clones, 2 * self.a.clones):
            feed(self.bport, dirs, offset=i * 100000)
        log("growth: %d more clones produced (%.0f s); topics now hold twice the backlog"
            % (self.a.clones, time.time() - t0))
        msgs, rows, dead = totals(self.counts, ("9189", "9606"), 2 * self.a.clones)
        wm = watermarks(self.bport, list(DEFAULT_TOPICS.values()))
        lost = {t: lo for t, (lo, hi) in wm.items() if lo != 0}
        if lost:
            self.res["missing"].append("growth: the broker dropped data (%s); raise --partitions" % lost)
            return
        runs = []
        for i in range(self.a.growth_runs):
            if i > 0 and self.budget_left() < 100:
                self.res["notes"].append("growth: %d run(s) only (time budget)" % i)
                break
            runs.append(self.growth_one(i, msgs, rows, dead))
        self.res["runs"]["growth"] = runs

    def growth_one(self, i, msgs, rows, dead):
        r = self.ingest_run(1, "growth run %d (2x backlog)" % (i + 1), expect_msgs=msgs, expect_rows=rows,
                            expect_dead=dead, timeout=400, perf=(i == 0))
        c = connect("bench")
        r["database_mb"] = q1(c, "SELECT pg_database_size('bench')") / 1048576.0
        r["shared_buffers"] = q1(c, "SHOW shared_buffers")
        c.close()
        n = r["msgs"]
        half = n / 2.0
        s = r["samples"]
        i_first = next(i for i, x in enumerate(s) if x[1] > 0)
        i_half = next(i for i, x in enumerate(s) if x[1] >= half)
        t_first, m_first, c_first, b_first, w_first, bb_first = s[i_first]
        t_half, m_half, c_half, b_half, w_half, bb_half = s[i_half]
        t_end, m_end, c_end, b_end, w_end, bb_end = s[-1]
        r["backend_buffer_writes_first_half"] = bb_half - bb_first
        r["backend_buffer_writes_second_half"] = bb_end - bb_half
        r["first_half_rate"] = (m_half - m_first) / (t_half - t_first)
        r["second_half_rate"] = (m_end - m_half) / (t_end - t_half)
        r["first_half_us_per_msg"] = (c_half - c_first) / (m_half - m_first) * 1e6
        r["second_half_us_per_msg"] = (c_end - c_half) / (m_end - m_half) * 1e6
        r["broker_first_half_us_per_msg"] = (b_half - b_first) / (m_half - m_first) * 1e6
        r["broker_second_half_us_per_msg"] = (b_end - b_half) / (m_end - m_half) * 1e6

        def kafka_wait(w0, w1):
            tot = sum(w1.values()) - sum(w0.values())
            return (w1.get("Extension:Extension", 0) - w0.get("Extension:Extension", 0)) / float(max(1, tot))
        r["kafka_wait_first_half"] = kafka_wait(w_first, w_half)
        r["kafka_wait_second_half"] = kafka_wait(w_half, w_end)
        del r["samples"]
        r["ratio_wall"] = r["second_half_rate"] / r["first_half_rate"]
        r["ratio_cpu"] = r["first_half_us_per_msg"] / r["second_half_us_per_msg"]
        log("growth: first half %.0f msgs/s (%.1f us of worker CPU per msg, broker %.1f us, waiting for Kafka %.0f%%),"
            " second half %.0f msgs/s (%.1f us/msg, broker %.1f us, waiting %.0f%%): %.2f by wall clock, %.2f by worker CPU"
            % (r["first_half_rate"], r["first_half_us_per_msg"], r["broker_first_half_us_per_msg"],
               r["kafka_wait_first_half"] * 100, r["second_half_rate"], r["second_half_us_per_msg"],
               r["broker_second_half_us_per_msg"], r["kafka_wait_second_half"] * 100,
               r["second_half_rate"] / r["first_half_rate"], r["first_half_us_per_msg"] / r["second_half_us_per_msg"]))
        return r

    # -- the report
    def report(self):
        R = self.res["runs"]
        F = []
        G = []

        def rates(k, f="rate"):
            return [x[f] for x in R.get(k, []) if x.get(f)]

        def fig(key, name, value, unit, runs=None, note=""):
            F.append({"key": key, "figure": name, "value": value, "unit": unit,
                      "runs": [round(x, 3) for x in runs] if runs else None, "note": note})
            return value

        def ratio(a, b):
            return a / b if a and b else None

        bare = fig("bare", "bare librdkafka consumer (backlog)", med(rates("bare_consumer")), "msgs/s",
                   rates("bare_consumer"), "C, no database, partitions assigned directly")
        if R.get("subset_json"):
            sb, sj = R["subset_bare"][0], R["subset_json"][0]
            fig("json", "JSON parse with json-c (the decoder's library), CPU per message", 
                (sj["cpu_secs"] - sb["cpu_secs"]) / sj["msgs"] * 1e6, "us", None,
                "subset: bare consumer %.0f msgs/s, + parse %.0f msgs/s by wall clock: a consumer only slightly slower "
                "than the fetcher stalls (librdkafka 2.0.2, queued.max.messages.kbytes=8192)" % (sb["rate"], sj["rate"]))
        con = fig("copy_on", "COPY, enrichment triggers on", med(rates("copy_on")), "rows/s", rates("copy_on"),
                  "same rows, tables, indexes; one transaction")
        cnt = fig("copy_on_no_telemetry", "COPY, triggers on but car_data's (no per-lap telemetry)",
                  med(rates("copy_on_no_telemetry")), "rows/s", rates("copy_on_no_telemetry"))
        fig("copy_telemetry_cost", "COPY: cost of the per-lap telemetry, 1 - on / without car_data's triggers",
            (1 - con / cnt) * 100 if con and cnt else None, "%", None)
        coff = fig("copy_off", "COPY, triggers off (session_replication_role=replica)", med(rates("copy_off")),
                   "rows/s", rates("copy_off"))
        f1 = fig("f1tel_1w", "f1tel ingest+enrich, 1 worker", med(rates("f1tel_1w")), "msgs/s", rates("f1tel_1w"),
                 "first to last commit; with the group join: %s msgs/s" % self._fmt(med(rates("f1tel_1w", "rate_from_enable"))))
        f2 = fig("f1tel_2w", "f1tel ingest+enrich, 2 workers", med(rates("f1tel_2w")), "msgs/s", rates("f1tel_2w"),
                 "first to last commit; with the group join: %s msgs/s" % self._fmt(med(rates("f1tel_2w", "rate_from_enable"))))
        self.telemetry_figures(fig, rates, ratio)
        fig("r_bare", "ratio f1tel (1 worker) / bare consumer", ratio(f1, bare), "x")
        fig("r_copy_on_1", "ratio f1tel 1 worker / COPY triggers on", ratio(f1, con), "x")
        fig("r_copy_on_2", "ratio f1tel 2 workers / COPY triggers on", ratio(f2, con), "x")
        fig("r_copy_off", "ratio f1tel 1 worker / COPY triggers off", ratio(f1, coff), "x")
        fig("r_2w", "ratio 2 workers / 1 worker", ratio(f2, f1), "x")
        cpu1 = [c for x in R.get("f1tel_1w", []) for c in x["worker_cpu"]]
        busy = [x["machine_busy"] for k in ("f1tel_1w", "f1tel_2w") for x in R.get(k, [])]
        if cpu1:
            fig("cpu_1w", "ingest worker CPU use during its run (1 worker)", med(cpu1) * 100, "%", [c * 100 for c in cpu1],
                "whole machine busy during the ingest runs: %s%% (other users included)"
                % "/".join("%.0f" % (x * 100) for x in busy))
        sf = fig("subset_f1tel", "f1tel, 1 worker, on the subset", med(rates("subset_f1tel_1w")), "msgs/s",
                 rates("subset_f1tel_1w"))
        sp = fig("subset_peer", "Python peer (confluent_kafka + psycopg2 execute_values) on the subset",
                 med(rates("subset_peer")), "msgs/s", rates("subset_peer"), "batches of 10000, one upsert per table, triggers on")
        rp = fig("r_peer", "ratio f1tel / Python peer (same subset, same run)", ratio(sf, sp), "x")
        lat = R.get("latency")
        if lat:
            for k, name in (("kafka_only", "latency CreateTime -> received by a plain consumer beside f1tel (Kafka's share)"),
                            ("laps_rows", "latency CreateTime -> laps row visible"),
                            ("driver_laps", "latency CreateTime -> driver_laps row visible"),
                            ("all_messages", "latency CreateTime -> committed, all messages (offsets)"),
                            ("sink_commit_to_ack", "latency driver_laps visible -> BigQuery server ack")):
                s = lat[k]
                if s["n"]:
                    fig("lat_" + k, name, s["p99"], "ms p99", None,
                        "n=%d p50 %.1f p95 %.1f p99 %.1f max %.1f" % (s["n"], s["p50"], s["p95"], s["p99"], s["max"]))
        for k, name in (("latency", "live pace: driver_laps versions written, telemetry ON"),
                        ("latency_telemetry_off", "live pace: driver_laps versions written, telemetry OFF")):
            x = R.get(k)
            if x and x.get("driver_laps_versions") is not None:
                fig("lat_versions" + ("_off" if k != "latency" else ""), name, x["driver_laps_versions"], "versions",
                    None, "%d laps; %d driver_laps changes in f1tel.changes (the sink %s); driver_laps p99 %s ms"
                    % (x["driver_laps_rows"], x["driver_laps_changes"], "on" if x.get("sink") else "off",
                       "%.1f" % x["driver_laps"]["p99"] if x["driver_laps"]["n"] else "?"))
        bql = self.a.bq_latency_ms
        pf = fig("push_f1tel", "push to the local BigQuery server, %g ms per insertAll: f1tel sink" % bql,
                 med(rates("push_f1tel")), "rows/s", rates("push_f1tel"),
                 "from the reload that enables it to pending = 0 (includes subscribe); after subscribe(): %s rows/s; "
                 "rounds (read, push, ack) of ~%s rows every %s ms; insertAll in flight on average %s, none in flight "
                 "%s%% of the push; sink CPU %s%% of the time"
                 % (self._fmt(med(rates("push_f1tel", "rate_after_subscribed"))),
                    self._fmt(med(rates("push_f1tel", "rows_per_round"))),
                    self._fmt(med(rates("push_f1tel", "round_period_ms"))),
                    self._fmt(med(rates("push_f1tel", "mean_in_flight")), "x"),
                    self._fmt(med([x["idle_share"] * 100 for x in R.get("push_f1tel", []) if "idle_share" in x]), "%"),
                    self._fmt(med([x["sink_cpu_share"] * 100 for x in R.get("push_f1tel", [])
                                   if x.get("sink_cpu_share")]), "%")))
        gcs = R.get("push_gcbq") or []
        pg = fig("push_gcbq", "push: the seed's sync script, google-cloud-bigquery insert_rows_json of 1,000, one "
                 "at a time (same server, same latency)", med(rates("push_gcbq")), "rows/s", rates("push_gcbq"),
                 "%s; per request p50 %s ms, p99 %s ms; %s of its time waiting for answers" % (
                     gcs[0]["client"], self._fmt(med([x["insert_p50_ms"] for x in gcs])),
                     self._fmt(med([x["insert_p99_ms"] for x in gcs])),
                     self._fmt(med([100.0 * x["insert_secs"] / x["secs"] for x in gcs]), "%") + "%") if gcs else "")
        rpush = fig("r_push", "ratio f1tel sink / the seed's sync script (google-cloud-bigquery)", ratio(pf, pg), "x")
        if R.get("push_peer"):
            pp = fig("push_peer", "push: http.client peer (poll by key/id, insertAll of 500, 21 columns, one at a time)",
                     med(rates("push_peer")), "rows/s", rates("push_peer"))
            fig("r_push_http", "ratio f1tel sink / http.client peer", ratio(pf, pp), "x")
        fig("push_limit", "push limit: the local BigQuery server without the latency (prebuilt bodies of 500 rows, "
            "4 connections)", med(rates("push_limit")), "rows/s", rates("push_limit"),
            "the most it takes; above both pushers' rates, so it is neither's bottleneck")
        pl = R.get("push_live")
        pa99 = pl["p99"] if pl and pl["n"] else None
        if pl:
            fig("push_commit_ack", "commit -> BigQuery ack, %g ms per insertAll, sink caught up (%.0f rows/s in "
                "commits of %d)" % (bql, pl["rate"] or 0, pl["rows_per_commit"]), pa99, "ms p99", None,
                "n=%d p50 %s p95 %s p99 %s max %s%s" % (pl["n"], self._fmt(pl["p50"], "ms p99"),
                                                        self._fmt(pl["p95"], "ms p99"), self._fmt(pl["p99"], "ms p99"),
                                                        self._fmt(pl["max"], "ms p99"),
                                                        "; %d changes never acked" % pl["unacked"] if pl["unacked"] else ""))
        ing = [v for k in ("f1tel_1w", "f1tel_2w") for x in R.get(k, []) for v in x["vmhwm_kb"]]
        mi = fig("rss_ingest", "ingest worker peak RSS (VmHWM), max over runs", max(ing) / 1024.0 if ing else None, "MB",
                 None, "1-worker runs: %s MB; 2-worker runs: %s MB" % (
                     "/".join(str(v // 1024) for x in R.get("f1tel_1w", []) for v in x["vmhwm_kb"]),
                     "/".join(str(v // 1024) for x in R.get("f1tel_2w", []) for v in x["vmhwm_kb"])))
        inga = [v for k in ("f1tel_1w", "f1tel_2w") for x in R.get(k, []) for v in x["rss_anon_peak_kb"]]
        ends = [e for x in R.get("f1tel_1w", []) for e in x.get("anon_at_end_kb", []) if e]
        mia = fig("rss_ingest_private", "ingest worker private memory peak (RssAnon, sampled every 25 ms)",
                  max(inga) / 1024.0 if inga else None, "MB", None,
                  "VmHWM also counts the shared buffers a worker touched (RssShmem peak %s MB); at the end of the "
                  "1-worker runs the main thread's [heap] (PostgreSQL + decoder) held %s MB, other anonymous memory "
                  "(librdkafka threads' malloc arenas and buffers) %s MB" % (
                      "/".join(str(v // 1024) for x in R.get("f1tel_1w", []) for v in x["rss_shmem_peak_kb"]),
                      "/".join(str(e["heap"] // 1024) for e in ends), "/".join(str(e["other_anon"] // 1024) for e in ends)))
        sk = [x["vmhwm_kb"] for x in R.get("push_f1tel", []) if x.get("vmhwm_kb")]
        ska = [x["rss_anon_peak_kb"] for x in R.get("push_f1tel", []) if x.get("rss_anon_peak_kb")]
        ms = fig("rss_sink", "sink worker peak RSS (VmHWM), max over push runs", max(sk) / 1024.0 if sk else None, "MB",
                 None, "private peak (RssAnon) %s MB" % ("%.1f" % (max(ska) / 1024.0) if ska else "?"))
        # CPU time per message: robust against the other users of a shared machine
        def us(k, f):
            return [x[f] for x in R.get(k, []) if x.get(f)]
        kc = [x["cpu_secs"] / x["msgs"] * 1e6 for x in R.get("bare_consumer", []) if x.get("cpu_secs")]
        fig("cpu_bare", "CPU per message: bare consumer", med(kc), "us", kc, "whole process, start-up included")
        c_on = fig("cpu_copy_on", "CPU per row: COPY triggers on (its backend)", med(us("copy_on", "cpu_us_per_row")), "us",
                   us("copy_on", "cpu_us_per_row"))
        fig("cpu_copy_on_no_telemetry", "CPU per row: COPY triggers on but car_data's (its backend)",
            med(us("copy_on_no_telemetry", "cpu_us_per_row")), "us", us("copy_on_no_telemetry", "cpu_us_per_row"))
        fig("cpu_copy_off", "CPU per row: COPY triggers off (its backend)", med(us("copy_off", "cpu_us_per_row")), "us",
            us("copy_off", "cpu_us_per_row"))
        c_f1 = fig("cpu_f1tel_1w", "CPU per message: f1tel, 1 worker (worker process: librdkafka + decode + SQL)",
                   med(us("f1tel_1w", "worker_cpu_us_per_msg")), "us", us("f1tel_1w", "worker_cpu_us_per_msg"))
        fig("cpu_f1tel_2w", "CPU per message: f1tel, 2 workers (both)", med(us("f1tel_2w", "worker_cpu_us_per_msg")), "us",
            us("f1tel_2w", "worker_cpu_us_per_msg"))
        c_sf = fig("cpu_subset_f1tel", "CPU per message: f1tel on the subset", med(us("subset_f1tel_1w", "worker_cpu_us_per_msg")),
                   "us", us("subset_f1tel_1w", "worker_cpu_us_per_msg"))
        c_sp = fig("cpu_subset_peer", "CPU per message: Python peer on the subset (Python + its backend)",
                   med(us("subset_peer", "cpu_us_per_msg")), "us", us("subset_peer", "cpu_us_per_msg"),
                   "start-up and group join included")
        fig("r_cpu_copy", "CPU ratio: COPY triggers on / f1tel 1 worker (1.0 = as cheap as COPY)", ratio(c_on, c_f1), "x")
        fig("r_cpu_peer", "CPU ratio: Python peer / f1tel (subset)", ratio(c_sp, c_sf), "x")
        grs = R.get("growth") or []
        fig("growth_1", "growth: first half of a 2x backlog (1 worker)", med(rates("growth", "first_half_rate")),
            "msgs/s", rates("growth", "first_half_rate"))
        fig("growth_2", "growth: second half", med(rates("growth", "second_half_rate")), "msgs/s",
            rates("growth", "second_half_rate"))
        rg = fig("r_growth", "ratio second half / first half (median of the runs' ratios)",
                 med(rates("growth", "ratio_wall")), "x", rates("growth", "ratio_wall"))
        if grs:
            gr = grs[0]
            fig("r_growth_cpu", "ratio second half / first half by worker CPU per message (median)",
                med(rates("growth", "ratio_cpu")), "x", rates("growth", "ratio_cpu"),
                "run 1: "
                "worker %.1f then %.1f us/msg; the test broker %.2f then %.2f us/msg; worker waiting for Kafka "
                "%.0f%% then %.0f%% of its samples; shared buffers written out by backends %d then %d (database "
                "%.0f MB at the end, shared_buffers %s)"
                % (gr["first_half_us_per_msg"], gr["second_half_us_per_msg"], gr["broker_first_half_us_per_msg"],
                   gr["broker_second_half_us_per_msg"], gr["kafka_wait_first_half"] * 100,
                   gr["kafka_wait_second_half"] * 100, gr["backend_buffer_writes_first_half"],
                   gr["backend_buffer_writes_second_half"], gr["database_mb"], gr["shared_buffers"]))

        def goal(name, value, target, ok):
            G.append({"goal": name, "value": value, "target": target,
                      "result": None if value is None else ("PASS" if ok else "MISS")})
        rc1, rc2 = ratio(f1, con), ratio(f2, con)
        goal("ingest+enrich, 1 worker >= 0.8 x COPY triggers on", rc1, 0.8, rc1 is not None and rc1 >= 0.8)
        goal("ingest+enrich, 2 workers >= 1.0 x COPY triggers on", rc2, 1.0, rc2 is not None and rc2 >= 1.0)
        goal("ingest+enrich >= 5 x Python peer", rp, 5, rp is not None and rp >= 5)
        p99 = lat["driver_laps"]["p99"] if lat and lat["driver_laps"]["n"] else None
        goal("p99 latency to driver_laps <= 10 ms at live pace (f1tel-broker)", p99, 10, p99 is not None and p99 <= 10)
        goal("push >= 5 x the seed's approach", rpush, 5, rpush is not None and rpush >= 5)
        goal("commit -> BigQuery ack p99 <= 300 ms (%g ms per insertAll)" % bql, pa99, 300,
             pa99 is not None and pa99 <= 300)
        goal("ingest worker RSS (VmHWM) <= 64 MB", mi, 64, mi is not None and mi <= 64)
        goal("ingest worker private memory (RssAnon peak) <= 64 MB", mia, 64, mia is not None and mia <= 64)
        goal("sink worker RSS (VmHWM) <= 64 MB", ms, 64, ms is not None and ms <= 64)
        msa = max(ska) / 1024.0 if ska else None
        goal("sink worker private memory (RssAnon peak) <= 64 MB", msa, 64, msa is not None and msa <= 64)
        goal("second-half rate >= 0.9 x first-half rate", rg, 0.9, rg is not None and rg >= 0.9)
        bench_flink.report(self, fig, goal, ratio)
        if self.a.only:
            # a partial run (--only): the figures and goals of the steps not run are left out
            F[:] = [f for f in F if f["value"] is not None]
            G[:] = [g for g in G if g["value"] is not None]
        for f in F:
            if f["value"] is None:
                self.res["missing"].append(f["figure"])
        self.res["table"] = F
        self.res["goals"] = G
        self.print_table()

    def telemetry_figures(self, fig, rates, ratio):
        """the cost of keeping driver_laps' telemetry: the interleaved 1-worker runs with and without
        the car_data triggers"""
        R = self.res["runs"]
        on, off = R.get("telemetry_on", []), R.get("telemetry_off", [])
        if not on and not off:
            return
        ron = fig("tel_on", "f1tel ingest, 1 worker, per-lap telemetry ON (car_data triggers, the default)",
                  med(rates("telemetry_on")), "msgs/s", rates("telemetry_on"), "interleaved with the OFF runs")
        roff = fig("tel_off", "f1tel ingest, 1 worker, telemetry OFF (car_data's 3 triggers disabled)",
                   med(rates("telemetry_off")), "msgs/s", rates("telemetry_off"), "same backlog, same settings")
        fig("tel_rows_on", "rows/s, telemetry ON", med(rates("telemetry_on", "rows_rate")), "rows/s",
            rates("telemetry_on", "rows_rate"))
        fig("tel_rows_off", "rows/s, telemetry OFF", med(rates("telemetry_off", "rows_rate")), "rows/s",
            rates("telemetry_off", "rows_rate"))
        pairs = [(1 - a["rate"] / b["rate"]) * 100 for a, b in zip(on, off) if a.get("rate") and b.get("rate")]
        fig("tel_cost", "cost of the telemetry by wall clock: 1 - ON / OFF (medians)",
            (1 - ron / roff) * 100 if ron and roff else None, "%", pairs, "runs: each ON run against the OFF run after it")
        con = med([x["worker_cpu_us_per_msg"] for x in on if x.get("worker_cpu_us_per_msg")])
        coff = med([x["worker_cpu_us_per_msg"] for x in off if x.get("worker_cpu_us_per_msg")])
        fig("tel_cpu_on", "worker CPU per message, telemetry ON", con, "us",
            [x["worker_cpu_us_per_msg"] for x in on if x.get("worker_cpu_us_per_msg")])
        fig("tel_cpu_off", "worker CPU per message, telemetry OFF", coff, "us",
            [x["worker_cpu_us_per_msg"] for x in off if x.get("worker_cpu_us_per_msg")])
        fig("tel_cpu_cost", "cost of the telemetry by worker CPU: ON / OFF - 1", (con / coff - 1) * 100
            if con and coff else None, "%", None)
        ref = (on or off)[0]
        ncar = ref["car_data_msgs"]
        fig("tel_cpu_car_data", "extra worker CPU per car_data message (ON - OFF, over all messages' CPU)",
            (con - coff) * ref["msgs"] / float(ncar) if con and coff and ncar else None, "us", None,
            "%d car_data messages of %d (%.1f%%); the worker is the backend (its SQL and triggers run in it)"
            % (ncar, ref["msgs"], 100.0 * ncar / ref["msgs"]))
        von = med([x["versions"] for x in on])
        voff = med([x["versions"] for x in off])
        fig("tel_versions_on", "driver_laps versions written, telemetry ON", von, "versions",
            [x["versions"] for x in on], "sum(version) over %d laps (version 1 = the insert, +1 per real change); "
            "rows updated at least once: %s" % (ref["driver_laps"], "/".join(str(x["rows_updated"]) for x in on)))
        fig("tel_versions_off", "driver_laps versions written, telemetry OFF", voff, "versions",
            [x["versions"] for x in off], "rows updated at least once: %s"
            % "/".join(str(x["rows_updated"]) for x in off))
        fig("tel_versions_ratio", "versions written ON / OFF", ratio(von, voff), "x")
        fig("tel_samples", "car_data samples counted in driver_laps: ON / OFF / its definition (driver_laps_v)",
            med([x["dl_samples"] for x in on]), "samples", None,
            "OFF: %s samples in %s of %d laps (counted only when another input recomputed the lap); definition %d "
            "in %d laps; ON equals the definition (checked)"
            % ("/".join(str(x["dl_samples"]) for x in off), "/".join(str(x["laps_with_samples"]) for x in off),
               ref["driver_laps"], ref["view_samples"], ref["view_laps_with_samples"]))

    @staticmethod
    def _fmt(v, unit=""):
        if v is None:
            return "MISSING"
        if unit == "x":
            return "%.2f" % v
        if unit in ("MB", "ms p99", "%", "us"):
            return "%.1f" % v
        return "{:,.0f}".format(v)

    def print_table(self):
        F, G = self.res["table"], self.res["goals"]
        m = self.res["machine"]
        lines = ["", "f1tel benchmark: `%s` on %s cores (%s), %s GB RAM; load average %.1f at the start; %.0f s; %s"
                 % (self.res["command"], m.get("nproc"), m.get("cpu"), m.get("mem_gb"), m.get("load_start", 0),
                    time.time() - T_START, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
                 "", "| figure | value | unit | runs | note |", "|---|---:|---|---|---|"]
        for f in F:
            runs = ", ".join(self._fmt(x, f["unit"]) for x in f["runs"]) if f["runs"] else ""
            lines.append("| %s | %s | %s | %s | %s |" % (f["figure"], self._fmt(f["value"], f["unit"]), f["unit"],
                                                       runs, f["note"]))
        lines += ["", "| goal | measured | target | result |", "|---|---:|---:|---|"]
        for g in G:
            lines.append("| %s | %s | %s | %s |" % (g["goal"], "MISSING" if g["value"] is None else "%.2f" % g["value"],
                                                  g["target"], g["result"] or "MISSING"))
        if self.res["missing"]:
            lines += ["", "Missing: " + "; ".join(self.res["missing"])]
        if self.res["notes"]:
            lines += ["", "Notes: " + "; ".join(self.res["notes"])]
        lines += ["", "Settings:"] + ["- %s: %s" % kv for kv in self.res["settings"].items()]
        lat = self.res["runs"].get("latency")
        if lat:
            lines.append("- live pace: f1tel-feed --speed %s -X linger.ms=0 of 9189 %s: %d messages in %.0f s; "
                         "1 ingest worker, f1tel.kafka_config as above (fetch.wait.max.ms=10), batch_wait_ms 0, "
                         "the BigQuery sink on (sink_flush_interval_ms 100)%s; visibility polled every 2 ms "
                         "(%.0f polls/s; a latency is an upper bound by at most one poll)"
                         % (self.a.speed, lat["slice"], lat["messages"], lat["feed_secs"],
                            "" if lat.get("sink", True) else " -- no, off (--no-latency-sink)", lat["poll_hz"]))
        profs = []
        gr = (self.res["runs"].get("growth") or [{}])[0]
        if gr.get("perf"):
            profs.append(("the ingest worker during growth run 1", gr["perf"]))
        pf = self.res["runs"].get("push_f1tel")
        if pf and pf[0].get("perf"):
            profs.append(("the sink worker during push run 1", pf[0]["perf"]))
        for what, prof in profs:
            lines += ["", "Profile of %s (perf, cpu-clock samples):" % what]
            lines.append("- by object: " + ", ".join("%s %.1f%%" % (n, p) for p, n in prof["dso"][:8]))
            lines.append("- top symbols: " + ", ".join("%s %.1f%%" % (n.split("] ")[-1], p)
                                                       for p, n in prof["sym"][:16]))
        waits = {}
        for k in ("f1tel_1w", "f1tel_2w"):
            for x in self.res["runs"].get(k, []):
                for e, v in x.get("wait_events", []):
                    waits.setdefault(k, {}).setdefault(e, []).append(v)
        for k, d in waits.items():
            lines.append("- ingest worker states sampled every 25 ms (%s, median share over runs): %s" % (
                k, ", ".join("%s %.0f%%" % (e, med(v) * 100)
                             for e, v in sorted(d.items(), key=lambda kv: -med(kv[1]))[:6])))
        self.res["table_text"] = "\n".join(lines)
        print("\n".join(lines), flush=True)


def machine():
    m = {"nproc": os.cpu_count(), "python": platform.python_version(), "load_start": loadavg()}
    try:
        for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                m["cpu"] = line.split(":", 1)[1].strip()
        with open("/proc/meminfo") as f:
            m["mem_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--kcons", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--clones", type=int, default=3)
    ap.add_argument("--push-clones", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--speed", default="10")
    ap.add_argument("--slice-start", type=int, default=30, help="minute after 06:00 UTC of 9189")
    ap.add_argument("--slice-minutes", type=int, default=10)
    ap.add_argument("--budget", type=float, default=720, help="seconds; optional parts are skipped past it")
    ap.add_argument("--growth-runs", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma list of: bare,ingest,telemetry,copy,peer,push,latency,growth,"
                                                "flink")
    ap.add_argument("--only", default="", help="comma list of the steps to run (the others are skipped), "
                                                "e.g. --only telemetry")
    ap.add_argument("--telemetry-runs", type=int, default=None,
                    help="on/off pairs of the telemetry comparison (default: --runs)")
    ap.add_argument("--perf", action="store_true", default=shutil.which("perf") is not None)
    ap.add_argument("--latency-telemetry-off", action="store_true",
                    help="a second live-pace run with car_data's triggers disabled (driver_laps versions)")
    ap.add_argument("--no-latency-sink", dest="latency_sink", action="store_false",
                    help="live-pace run without the BigQuery sink")
    ap.add_argument("--kafka-extra", default="", help="more f1tel.kafka_config properties (experiments)")
    ap.add_argument("--db-set", default="", help="'name=value, ...': ALTER DATABASE bench SET for every "
                                                  "ingest run (experiments, e.g. 'join_collapse_limit=20')")
    ap.add_argument("--max-workers", type=int, default=2, choices=(1, 2), help="1: skip the 2-worker runs")
    ap.add_argument("--bq-latency-ms", type=float, default=150.0,
                    help="push: the local BigQuery server answers each insertAll this late (BigQuery's latency)")
    ap.add_argument("--peer-poll-s", type=float, default=10.0, help="push: the seed's sync script's poll interval")
    ap.add_argument("--push-live-rate", type=float, default=200.0,
                    help="push: rows/s of the commit -> ack phase (commits of %d laps)" % LIVE_PER_COMMIT)
    ap.add_argument("--push-live-secs", type=float, default=20.0, help="push: length of the commit -> ack phase")
    ap.add_argument("--push-sink-set", default="", help="push: 'name=value, ...' sink settings for the f1tel "
                                                         "runs (experiments, e.g. 'f1tel.bigquery_concurrency=16')")
    ap.add_argument("--push-http-peer", action="store_true",
                    help="push: also run peer_push.py, the http.client peer (insertAll of 500, 21 columns)")
    ap.add_argument("--flink-clones", type=int, default=24, help="flink: time-ordered clones of 9189+9606 in its backlog")
    ap.add_argument("--flink-slice-minutes", type=int, default=3, help="flink: minutes of 9189 (from 06:30) fed at 10x")
    ap.add_argument("--flink-pace1-minutes", type=int, default=1, help="flink: minutes of 9189 f1tel gets at 1x (0: none)")
    ap.add_argument("--flink-timeout", type=float, default=300, help="flink: seconds each run of the job may take")
    a = ap.parse_args()
    all_steps = ["bare", "ingest", "telemetry", "copy", "peer", "push", "latency", "growth", "flink"]
    skip = set(x for x in a.skip.split(",") if x)
    only = set(x for x in a.only.split(",") if x)
    bad = (skip | only) - set(all_steps)
    if bad:
        ap.error("unknown steps: %s" % ", ".join(sorted(bad)))
    if "copy" in only and "ingest" not in only:
        only.add("ingest")          # COPY loads the rows the first ingest run exported
    a.steps = set(s for s in all_steps if (not only or s in only) and s not in skip)
    if a.telemetry_runs is None:
        a.telemetry_runs = a.runs
    global KAFKA_CONFIG
    if a.kafka_extra:
        KAFKA_CONFIG += ", " + a.kafka_extra
    for kv in (x.strip() for x in a.db_set.split(",") if x.strip()):
        k, v = (y.strip() for y in kv.split("=", 1))
        if not re.match(r"^[a-z_][a-z0-9_.]*$", k) or not re.match(r"^[A-Za-z0-9_.-]+$", v):
            ap.error("--db-set: bad setting %r" % kv)
        DB_SETTINGS.append((k, v))
    for kv in (x.strip() for x in a.push_sink_set.split(",") if x.strip()):
        k, v = (y.strip() for y in kv.split("=", 1))
        if not re.match(r"^f1tel\.[a-z_]+$", k) or not re.match(r"^[A-Za-z0-9_.-]+$", v):
            ap.error("--push-sink-set: bad setting %r" % kv)
        PUSH_SINK_SETTINGS[k] = v

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(1))
    b = Bench(a)
    b.res["machine"] = machine()
    b.res["command"] = " ".join(["test/bench/run.sh"] + [x for x in sys.argv[1:] if not x.startswith(("--tmp", "--data", "--kcons"))
                                                          and x not in (a.tmp, a.data, a.kcons)])
    log("f1tel benchmark: %s, %s cores, %s GB; budget %d s" % (b.res["machine"].get("cpu"), b.res["machine"]["nproc"],
                                                              b.res["machine"].get("mem_gb"), a.budget))
    b.setup()
    steps = [("bare", b.bare_consumer), ("ingest", b.ingest_runs), ("telemetry", b.telemetry_runs),
             ("copy", b.copy_runs),
             ("peer", b.peer_runs), ("push", b.push_runs), ("latency", b.latency_runs),
             ("growth", b.growth_run), ("flink", lambda: bench_flink.run(b, sys.modules[__name__]))]
    need = {"copy": 60, "peer": 90, "push": 60, "latency": 90, "growth": 90}
    for name, fn in steps:
        if name not in a.steps:
            b.res["missing"].append("%s (skipped by --%s)" % (name, "skip" if name in skip else "only"))
            continue
        if name in need and b.budget_left() < need[name]:
            b.res["missing"].append("%s (time budget exhausted)" % name)
            log("skipping %s: time budget exhausted" % name)
            continue
        fn()
    b.res["elapsed_secs"] = time.time() - T_START
    b.report()
    for k in ("f1tel_1w", "f1tel_2w", "subset_f1tel_1w"):
        for x in b.res["runs"].get(k, []):
            x.pop("samples", None)
    with open(a.out, "w") as f:
        json.dump(b.res, f, indent=1, default=str)
    log("done in %.0f s; results in %s" % (time.time() - T_START, a.out))


if __name__ == "__main__":
    main()
