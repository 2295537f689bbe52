#!/usr/bin/python3
"""test/bench/flink_peer.py: runs the seed's own pipeline (the PyFlink job of
test/bench/flink/job.py; flink/README.md) as a benchmark peer of f1tel.

Importable from bench.py (same directory), or by hand:
    python3 test/bench/flink_peer.py --brokers 127.0.0.1:9092 \\
        --pg 'host=127.0.0.1 port=5432 user=postgres' --db bench \\
        [--expect-from-f1tel] [--correctness] [--feed 'f1tel-feed ...']

run_flink_peer(brokers, pg_conninfo, db, timeout_s=600, expect_laps=None,
               tmp_dir=None, expect_rc=None, quiet_s=15.0, idle_timeout_ms=1000,
               heap="1g", topics=None, log=None, feed_cmd=None) -> dict
  1. flink/setup.sh: the venv (PyFlink 1.20.5) and the jars, pinned, cached
     under /var/cache/f1tel (fetched on first use only);
  2. (re)creates schema "flink" in db, beside f1tel's: flink.driver_laps (key
     session_key, driver_number, lap_number) and flink.race_control, with a
     written_at that a trigger sets to clock_timestamp() on each write;
  3. starts job.py (a local mini-cluster in the JVM of the Python process,
     parallelism 1, -Xmx<heap>) with a fresh consumer group and upsert topic,
     reading the four topics from the start;
  4. polls the tables every 50 ms and samples the RSS of the job's process
     tree (Python + its JVM) every 250 ms until driver_laps holds expect_laps
     rows (and race_control expect_rc), or nothing was written for quiet_s s,
     or timeout_s;
  5. stops the job (SIGTERM to its process group, then SIGKILL) and returns
       rows, race_control_rows   in the two tables at the end
       seconds          job submitted -> the last row written (either table)
       rows_per_s       (rows + race_control_rows) / seconds; laps_per_s
       startup_s        process launched -> job submitted (JVM, planner)
       first_row_s      job submitted -> first row; seconds_from_launch
       rss_kb_max       the largest sum of the tree's VmRSS seen, and
       rss_kb_max_by_proc {"python": .., "java": ..}, each one's largest;
       rss_anon_kb_max  the largest sum of the tree's RssAnon (private memory);
       cpu_s            the tree's user+sys CPU seconds (from launch, JVM start-up included)
       complete         expect_laps (and expect_rc) reached; expect_laps; log
     and with feed_cmd (live pace: empty topics, the command run once the
     job is up) feed_rc and latency_ms {n, p50, p99, max, mean}: each lap's
     written_at - its laps message's CreateTime.
correctness(conn) / CORRECTNESS_SQL: the share of f1tel's laps whose Flink
row equals f1tel.driver_laps_v in the seed's columns (both in one database),
with the columns that differ; expected_laps(conn) / EXPECTED_LAPS_SQL: the
laps the seed's rules write from the same input; make_backlog(): clones of
sessions shifted in time, for one time-ordered feed.

Things a reader must know:
  - Apache Kafka only: Java's Kafka client cannot use f1tel-broker (see
    flink/README.md). The input must be in time order in each topic: one
    partition per topic, clones from make_backlog(), or the job loses laps.
  - The rules are the seed's, not f1tel's: the position held at the lap's
    date_start (f1tel: at lap_end), laps without one dropped, the last ~5 s
    of a backlog never written (the watermark): "equal" stays below 100 %.
  - Flink writes timestamp without time zone (UTC); the comparison converts.
  - The upsert topic is created with 1 partition (confluent_kafka's admin
    client); a broker that refuses auto-creates it.
  - Needs /usr/bin/python3 with psycopg2 and confluent_kafka (the bench's).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2
import psycopg2.extensions

HERE = os.path.dirname(os.path.abspath(__file__))
FLINK_DIR = os.path.join(HERE, "flink")


def _load_backlog():
    import importlib.util
    spec = importlib.util.spec_from_file_location("f1tel_flink_backlog",
                                                  os.path.join(FLINK_DIR, "backlog.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_backlog = _load_backlog().make_backlog     # flink/backlog.py

SCHEMA_SQL = """
DROP SCHEMA IF EXISTS flink CASCADE;
CREATE SCHEMA flink;
-- the seed's driver_laps (is_pit_out_lap besides), as job.py writes it
CREATE TABLE flink.driver_laps (
    session_key     integer NOT NULL,
    driver_number   integer NOT NULL,
    lap_number      integer NOT NULL,
    date_start      timestamp(3),       -- UTC
    lap_duration    double precision,
    st_speed        integer,
    is_pit_out_lap  boolean,
    position        integer,
    name_acronym    text,
    team_name       text,
    written_at      timestamptz,        -- the measurement's, set by the trigger
    PRIMARY KEY (session_key, driver_number, lap_number)
);
CREATE TABLE flink.race_control (
    session_key     integer,
    meeting_key     integer,
    date            timestamp(3),       -- UTC
    driver_number   integer,
    lap_number      integer,
    sector          integer,
    category        text,
    flag            text,
    scope           text,
    message         text,
    written_at      timestamptz
);
CREATE FUNCTION flink.stamp() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN NEW.written_at := clock_timestamp(); RETURN NEW; END$$;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON flink.driver_laps
    FOR EACH ROW EXECUTE FUNCTION flink.stamp();
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON flink.race_control
    FOR EACH ROW EXECUTE FUNCTION flink.stamp();
"""

# The seed's columns of a lap, compared NULL-safe and exactly (both sides
# parse the same JSON numbers into doubles).
COMPARED = ("date_start", "lap_duration", "st_speed", "is_pit_out_lap", "position",
            "name_acronym", "team_name")

# Over f1tel's laps (f1tel.driver_laps_v, all of them): laps = f1tel's laps,
# flink_rows = those Flink wrote, equal = Flink's row equals the view's in
# every compared column, share = equal / laps, share_of_written = equal /
# flink_rows; diff_<column> = written rows that differ in that column;
# diff_seed_position = written rows whose position is not the one the seed's
# rule gives on the same input (the driver's latest position dated <=
# date_start; f1tel's rule: <= lap_end), i.e. the job's own errors;
# extra = Flink rows without a lap in f1tel.
CORRECTNESS_SQL = """
WITH v AS (
    SELECT session_key, driver_number, lap_number,
           date_start AT TIME ZONE 'UTC' AS date_start, lap_duration, st_speed,
           is_pit_out_lap, position, name_acronym, team_name
      FROM f1tel.driver_laps_v),
j AS (
    SELECT v.*, f.lap_number IS NOT NULL AS written,
           f.position IS NOT DISTINCT FROM (
               SELECT p.position FROM f1tel.position p
                WHERE (p.session_key, p.driver_number) = (v.session_key, v.driver_number)
                  AND p.date <= v.date_start AT TIME ZONE 'UTC'
                ORDER BY p.date DESC LIMIT 1) AS eq_seed_position,
           %s
      FROM v LEFT JOIN flink.driver_laps f USING (session_key, driver_number, lap_number))
SELECT count(*) AS laps,
       count(*) FILTER (WHERE written) AS flink_rows,
       count(*) FILTER (WHERE written AND %s) AS equal,
       round(count(*) FILTER (WHERE written AND %s)::numeric / nullif(count(*), 0), 4) AS share,
       round(count(*) FILTER (WHERE written AND %s)::numeric
             / nullif(count(*) FILTER (WHERE written), 0), 4) AS share_of_written,
       %s,
       count(*) FILTER (WHERE written AND NOT eq_seed_position) AS diff_seed_position,
       (SELECT count(*) FROM flink.driver_laps f
         WHERE NOT EXISTS (SELECT 1 FROM f1tel.laps l WHERE (l.session_key, l.driver_number,
               l.lap_number) = (f.session_key, f.driver_number, f.lap_number))) AS extra
  FROM j
""" % (",\n           ".join("v.%s IS NOT DISTINCT FROM f.%s AS eq_%s" % (c, c, c) for c in COMPARED),
       " AND ".join("eq_" + c for c in COMPARED), " AND ".join("eq_" + c for c in COMPARED),
       " AND ".join("eq_" + c for c in COMPARED),
       ",\n       ".join("count(*) FILTER (WHERE written AND NOT eq_%s) AS diff_%s" % (c, c)
                          for c in COMPARED))

# The laps the seed's rules can write, from f1tel's staging tables (the same
# input, one partition per topic): laps with a position record of the driver
# dated <= date_start, and date_start at most the job's final watermark: the
# newest position date minus 5 s, and without the idle timeout (%s true)
# also the newest laps date_start minus 5 s (the temporal join then waits
# for both inputs).
EXPECTED_LAPS_SQL = """
SELECT count(*) FROM f1tel.laps l
 WHERE EXISTS (SELECT 1 FROM f1tel.position p
                WHERE (p.session_key, p.driver_number) = (l.session_key, l.driver_number)
                  AND p.date <= l.date_start)
   AND l.date_start <= (SELECT max(date) FROM f1tel.position) - interval '5 s'
   AND (%s OR l.date_start <= (SELECT max(date_start) FROM f1tel.laps) - interval '5 s')
"""


def correctness(conn):
    """CORRECTNESS_SQL on an open connection (f1tel's and flink's tables in one database)."""
    with conn.cursor() as cur:
        cur.execute(CORRECTNESS_SQL)
        row = cur.fetchone()
        out = {d.name: (float(v) if hasattr(v, "as_tuple") else v) for d, v in zip(cur.description, row)}
    return out


def expected_laps(conn, idle_timeout=True):
    """EXPECTED_LAPS_SQL: the rows the job should write (idle_timeout: --idle-timeout-ms > 0)."""
    with conn.cursor() as cur:
        cur.execute(EXPECTED_LAPS_SQL, (bool(idle_timeout),))
        return cur.fetchone()[0]


def setup():
    """Runs flink/setup.sh; returns {'python': .., 'jars': .., 'pipeline_jars': ..}."""
    r = subprocess.run([os.path.join(FLINK_DIR, "setup.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError("flink/setup.sh failed: " + r.stderr[-2000:])
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def tree_rss_kb(root):
    """{pid: (comm, VmRSS kB, CPU seconds, RssAnon kB)} of root and its descendants."""
    kids, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            kids.setdefault(int(fields[1]), []).append(int(d))
            cpu[int(d)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            pass
    out, stack = {}, [root]
    while stack:
        pid = stack.pop()
        stack.extend(kids.get(pid, []))
        try:
            comm = open("/proc/%d/comm" % pid).read().strip()
            rss = anon = 0
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                    elif line.startswith("RssAnon:"):
                        anon = int(line.split()[1])
            out[pid] = (comm, rss, cpu.get(pid, 0.0), anon)
        except OSError:
            pass
    return out


def create_upsert_topic(brokers, topic):
    """The job's upsert topic, 1 partition (False if the broker refused: it may auto-create)."""
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": brokers})   # kept alive until the answer
        fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=-1)],
                                 request_timeout=5)
        fs[topic].result(timeout=10)
        return True
    except Exception:   # noqa: BLE001 - an old broker, a mock: let it auto-create
        return False


def jdbc_target(pg_conninfo, db):
    p = psycopg2.extensions.parse_dsn(pg_conninfo)
    p["dbname"] = db
    host = p.get("host", "127.0.0.1")
    if host.startswith("/"):
        host = "127.0.0.1"      # JDBC speaks TCP only
    url = "jdbc:postgresql://%s:%s/%s" % (host, p.get("port", "5432"), db)
    return p, url, p.get("user", os.environ.get("USER", "postgres")), p.get("password", "")


def lap_create_times(brokers, topic="f1_laps", timeout_s=30):
    """{(session_key, driver_number, lap_number): CreateTime in s} of every message of topic."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": brokers, "group.id": "flink-peer-times-%d" % os.getpid(),
                  "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10).topics[topic]
    tps = [TopicPartition(topic, p, 0) for p in md.partitions]
    ends = {tp.partition: c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
    c.assign(tps)
    out, left, deadline = {}, {p for p, e in ends.items() if e > 0}, time.time() + timeout_s
    while left and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        try:
            r = json.loads(m.value())
            out.setdefault((r["session_key"], r["driver_number"], r["lap_number"]),
                           m.timestamp()[1] / 1000.0)
        except (ValueError, KeyError, TypeError):
            pass
        if m.offset() + 1 >= ends[m.partition()]:
            left.discard(m.partition())
    c.close()
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else None


def run_flink_peer(brokers, pg_conninfo, db, timeout_s=600, expect_laps=None, tmp_dir=None,
                   expect_rc=None, quiet_s=15.0, idle_timeout_ms=1000, heap="1g",
                   topics=None, log=None, feed_cmd=None, feed_delay_s=5.0):
    """Runs the seed's job once on what the topics hold; see the module's header.

    feed_cmd (a command list, e.g. f1tel-feed --speed 10 ... of a slice): the
    live-pace mode. The topics should be empty; the command runs feed_delay_s
    after the job is submitted, the quiet_s rule starts when it has exited,
    and the result gains latency_ms: {n, p50, p99, max, mean} of each
    written lap's written_at - its laps message's CreateTime (the last write
    of the row: a lap whose driver came later is written twice)."""
    log = log or (lambda m: print("flink_peer: " + m, file=sys.stderr, flush=True))
    env_paths = setup()
    tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="flink-peer-")
    os.makedirs(tmp_dir, exist_ok=True)
    params, url, user, password = jdbc_target(pg_conninfo, db)
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)

    tag = "%d_%d" % (int(time.time()), os.getpid())
    upsert = "flink_position_latest_" + tag
    created = create_upsert_topic(brokers, upsert)
    cmd = [env_paths["python"], "-W", "ignore", os.path.join(FLINK_DIR, "job.py"),
           "--brokers", brokers, "--jdbc-url", url, "--user", user, "--jars", env_paths["pipeline_jars"],
           "--group-id", "f1tel-bench-flink-" + tag, "--upsert-topic", upsert,
           "--idle-timeout-ms", str(idle_timeout_ms)]
    for ep, t in (topics or {}).items():
        cmd += ["--topic-" + ep.replace("_", "-"), t]
    env = dict(os.environ, FLINK_LOG_DIR=tmp_dir, JVM_ARGS="-Xmx%s -Xms64m" % heap)
    if password:
        env["F1TEL_FLINK_PG_PASSWORD"] = password      # not on the command line
    logfile = os.path.join(tmp_dir, "flink-job.log")
    out = open(logfile, "w")
    t_launch = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=out, env=env, text=True,
                            start_new_session=True)
    log("job started (pid %d, upsert topic %s%s, log %s)"
        % (proc.pid, upsert, "" if created else " auto-created", logfile))
    submitted = {}

    def read_stdout():
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if line.startswith("F1TEL_FLINK_SUBMITTED"):
                submitted["t"] = float(line.split()[1])
    threading.Thread(target=read_stdout, daemon=True).start()

    rss_max, anon_max, by_proc, cpu_seen = 0, 0, {}, {}
    stop = threading.Event()

    def sample():
        nonlocal rss_max, anon_max
        while not stop.is_set():
            t = tree_rss_kb(proc.pid)
            rss_max = max(rss_max, sum(r for _, r, _, _ in t.values()))
            anon_max = max(anon_max, sum(an for _, _, _, an in t.values()))
            cpu_seen.update({pid: c for pid, (_, _, c, _) in t.items()})
            for comm, r, _, _ in t.values():
                key = "java" if comm == "java" else ("python" if comm.startswith("python") else comm)
                by_proc[key] = max(by_proc.get(key, 0), r)
            stop.wait(0.25)
    threading.Thread(target=sample, daemon=True).start()

    q = ("SELECT (SELECT count(*) FROM flink.driver_laps), (SELECT count(*) FROM flink.race_control),"
         " greatest((SELECT max(written_at) FROM flink.driver_laps),"
         " (SELECT max(written_at) FROM flink.race_control)),"
         " least((SELECT min(written_at) FROM flink.driver_laps),"
         " (SELECT min(written_at) FROM flink.race_control))")
    deadline = t_launch + timeout_s
    last_n, last_change, complete = None, None, False
    rows = rc = 0
    t_last = t_first = None
    feed = {}

    def run_feed():
        while "t" not in submitted and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(feed_delay_s)
        log("feeding: " + " ".join(feed_cmd))
        feed["rc"] = subprocess.run(feed_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True).returncode
        feed["end"] = time.time()
    if feed_cmd:
        threading.Thread(target=run_feed, daemon=True).start()
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                log("the job exited with %s (see %s)" % (proc.returncode, logfile))
                break
            with conn.cursor() as cur:
                cur.execute(q)
                rows, rc, t_last, t_first = cur.fetchone()
            now = time.time()
            if (rows, rc) != last_n:
                last_n, last_change = (rows, rc), now
            if expect_laps is not None and rows >= expect_laps and \
                    (expect_rc is None or rc >= expect_rc):
                complete = True
                break
            if feed_cmd and "end" not in feed:
                last_change = now
            elif rows + rc > 0 and now - last_change >= quiet_s:
                break
            time.sleep(0.05)
        # one more look after the end (a row may land while we decide)
        time.sleep(0.2)
        with conn.cursor() as cur:
            cur.execute(q)
            rows, rc, t_last, t_first = cur.fetchone()
    finally:
        stop.set()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        out.close()
        conn.close()
    t_sub = submitted.get("t")
    t_end = t_last.timestamp() if t_last else None
    secs = (t_end - t_sub) if (t_end and t_sub) else None
    res = {
        "rows": rows, "race_control_rows": rc,
        "seconds": secs,
        "seconds_from_launch": (t_end - t_launch) if t_end else None,
        "startup_s": (t_sub - t_launch) if t_sub else None,
        "first_row_s": (t_first.timestamp() - t_sub) if (t_first and t_sub) else None,
        "rows_per_s": (rows + rc) / secs if secs else None,
        "laps_per_s": rows / secs if secs else None,
        "rss_kb_max": rss_max, "rss_kb_max_by_proc": by_proc, "rss_anon_kb_max": anon_max,
        "cpu_s": sum(cpu_seen.values()),     # user+sys of the tree, last sample (from launch)
        "complete": complete, "expect_laps": expect_laps, "log": logfile,
    }
    if feed_cmd:
        res["feed_rc"] = feed.get("rc")
        created = lap_create_times(brokers, (topics or {}).get("laps", "f1_laps"))
        c = psycopg2.connect(**params)
        with c.cursor() as cur:
            cur.execute("SELECT session_key, driver_number, lap_number,"
                        " extract(epoch FROM written_at) FROM flink.driver_laps")
            lat = [(float(w) - created[(sk, dn, ln)]) * 1000.0
                   for sk, dn, ln, w in cur.fetchall() if (sk, dn, ln) in created]
        c.close()
        res["latency_ms"] = {"n": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99),
                             "max": max(lat) if lat else None,
                             "mean": sum(lat) / len(lat) if lat else None}
    log("rows %s, race_control %s, %.2f s from submission, rss max %d kB"
        % (rows, rc, secs or -1, rss_max))
    return res


def main():
    ap = argparse.ArgumentParser(description="Run the seed's PyFlink job as f1tel's benchmark peer.")
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--pg", required=True, help="libpq conninfo, e.g. 'host=127.0.0.1 port=5432 user=postgres'")
    ap.add_argument("--db", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--expect-laps", type=int, help="stop at this many rows (default: quiet for --quiet-s)")
    ap.add_argument("--expect-rc", type=int)
    ap.add_argument("--expect-from-f1tel", action="store_true",
                    help="take --expect-laps from f1tel's tables in --db (EXPECTED_LAPS_SQL)")
    ap.add_argument("--quiet-s", type=float, default=15)
    ap.add_argument("--idle-timeout-ms", type=int, default=1000)
    ap.add_argument("--heap", default="1g")
    ap.add_argument("--tmp")
    ap.add_argument("--correctness", action="store_true",
                    help="afterwards, compare with f1tel.driver_laps_v in --db")
    ap.add_argument("--feed", help="live mode: a command (one string, split on spaces) run once the "
                    "job is up, e.g. 'f1tel-feed --brokers B --speed 10 DIR'; adds latency_ms")
    ap.add_argument("--make-backlog", metavar="OUT_DIR",
                    help="only write --clones time-ordered clones of --sessions into OUT_DIR "
                         "(make_backlog) and print the folders for f1tel-feed")
    ap.add_argument("--clones", type=int, default=1)
    ap.add_argument("--sessions", nargs="*", default=[
        os.path.join(HERE, "..", "data", "openf1", s) for s in ("9189", "9606")])
    if "--make-backlog" in sys.argv:
        for opt in ("--brokers", "--pg", "--db"):
            ap._option_string_actions[opt].required = False
    a = ap.parse_args()
    if a.make_backlog:
        print(" ".join(make_backlog([os.path.normpath(d) for d in a.sessions], a.clones,
                                    a.make_backlog)))
        return 0
    params, _, _, _ = jdbc_target(a.pg, a.db)
    expect = a.expect_laps
    if a.expect_from_f1tel:
        c = psycopg2.connect(**params)
        expect = expected_laps(c, a.idle_timeout_ms > 0)
        c.close()
    res = run_flink_peer(a.brokers, a.pg, a.db, timeout_s=a.timeout, expect_laps=expect,
                         tmp_dir=a.tmp, expect_rc=a.expect_rc, quiet_s=a.quiet_s,
                         idle_timeout_ms=a.idle_timeout_ms, heap=a.heap,
                         feed_cmd=a.feed.split() if a.feed else None)
    if a.correctness:
        c = psycopg2.connect(**params)
        res["correctness"] = correctness(c)
        c.close()
    print(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
