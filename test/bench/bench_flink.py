"""test/bench/bench_flink.py: the benchmark's "flink" step: f1tel against the
seed's own pipeline (the PyFlink job of flink/job.py, driven by
flink_peer.py), both on one Apache Kafka and the bench's PostgreSQL cluster.

What it runs (run(b, m); figures and goals in report(); README.md, "Flink"):
  1. kafka.sh fetch, flink/setup.sh install (cached under /var/cache/f1tel);
     one Apache Kafka node (test/kafka/kafka.sh, 1 partition per topic);
  2. backlog: --flink-clones time-ordered clones of 9189+9606 (make_backlog),
     the four topics the job reads, fed once at --speed max; f1tel ingests it
     in a fresh database (bench.ingest_run, brokers = that Kafka, counts
     checked), then the Flink job reads the same topics into schema flink of
     the same database; correctness: CORRECTNESS_SQL there, and f1tel's own
     driver_laps = driver_laps_v (driver_laps_drift);
  3. live pace, on fresh topics each: the job on a --flink-slice-minutes
     slice of 9189 at 10x (flink_peer's feed_cmd mode), then f1tel on the
     same slice at 10x and on its first --flink-pace1-minutes at 1x, with a
     plain consumer beside it (Kafka's own share).
Rules a reader must know:
  - m is bench.py's module (its helpers and globals: CLUSTER, PROCS, log,
    die ...), passed in, never imported (bench.py runs as __main__).
  - f1tel's consumption is switched off (f1tel.brokers = 127.0.0.1:1) while
    the job runs, so the two never share the 2 cores.
  - Kafka is stopped in a finally (and the job by flink_peer's own); a
    failure of the Flink side is a note, not the end of the bench; bench's
    die() (f1tel's counts wrong) still ends it.
"""

import datetime
import json
import os
import shutil
import subprocess
import time

import bench_util
import flink_peer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KAFKA_SH = os.path.join(REPO, "test", "kafka", "kafka.sh")
FLINK_SETUP = os.path.join(HERE, "flink", "setup.sh")
EPS = ("laps", "position", "drivers", "race_control")
RUN_SH_BOUND_S = 1200       # run.sh's timeout of the whole bench
STEP_RESERVE_S = 330        # what this step may need


def topics_of(prefix):
    return {ep: prefix + ep for ep in EPS}


def summ(m, xs):
    return {"n": len(xs), "p50": m.pct(xs, 50), "p95": m.pct(xs, 95), "p99": m.pct(xs, 99),
            "max": max(xs) if xs else None}


def missing(b, m, why):
    b.res["missing"].append("flink (%s)" % why)
    m.log("skipping flink: " + why)


def run(b, m):
    if time.time() - m.T_START > RUN_SH_BOUND_S - STEP_RESERVE_S:
        return missing(b, m, "not started: %.0f s elapsed, run.sh stops the bench at %d s"
                       % (time.time() - m.T_START, RUN_SH_BOUND_S))
    if not shutil.which("java"):
        return missing(b, m, "java is missing: apt-get install openjdk-17-jre-headless")
    for cmd in ([KAFKA_SH, "fetch"], [FLINK_SETUP, "install"]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=3600)
        if r.returncode != 0:
            return missing(b, m, "%s failed: %s" % (" ".join(cmd[-2:]), r.stderr.strip()[-300:]))
    res = b.res["runs"]["flink"] = {}
    kdir = os.path.join(b.tmp, "kafka")
    port = m.free_port()
    live = {"flink": topics_of("flive_"), "f1tel10": topics_of("live10_"), "f1tel1": topics_of("live1_")}
    all_topics = list(m.DEFAULT_TOPICS.values()) + [t for d in live.values() for t in d.values()]
    t0 = time.time()
    try:
        r = subprocess.run([KAFKA_SH, "start", "--dir", kdir, "--port", str(port), "--partitions", "1",
                            "--topics", ",".join(all_topics)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=240)
        if r.returncode != 0:
            return missing(b, m, "kafka.sh start failed: " + r.stdout.strip()[-300:])
        ver = subprocess.run(["sed", "-n", "s:.*<kafka.version>\\(.*\\)</kafka.version>.*:\\1:p",
                              os.path.join(REPO, "test", "kafka", "pom.xml")], stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        m.log("flink: Apache Kafka %s on 127.0.0.1:%d, 1 partition per topic (%.0f s)" % (ver, port, time.time() - t0))
        res["kafka"] = "Apache Kafka %s (test/kafka/kafka.sh, one KRaft node), 1 partition per topic" % ver
        b.res["settings"]["flink"] = (
            "%s; backlog: %d time-ordered clones of 9189+9606 (make_backlog), laps/position/drivers/race_control; "
            "the seed's PyFlink job (flink/job.py, apache-flink 1.20.5, parallelism 1, -Xmx1g, JDBC sink flushing "
            "every row) and f1tel (1 worker) in turn, never together; live: 9189 from 06:30 UTC, %d min at 10x "
            "(both), %d min at 1x (f1tel), -X linger.ms=0, fresh topics per run"
            % (res["kafka"], b.a.flink_clones, b.a.flink_slice_minutes, b.a.flink_pace1_minutes))
        try:
            backlog(b, m, port, res)
            live_runs(b, m, port, live, res)
        except Exception as e:      # noqa: BLE001 - the Flink side failing is a note, not the bench's end
            b.res["notes"].append("flink step failed: %r" % e)
            m.log("flink: FAILED: %r" % e)
    finally:
        if os.path.exists(os.path.join(kdir, "nodes")):
            subprocess.run([KAFKA_SH, "stop", "--dir", kdir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        # f1tel's worker lets go of that Kafka (it is gone)
        if m.CLUSTER.get("started"):
            m.alter_system({"f1tel.brokers": "127.0.0.1:1"})
        res["step_secs"] = time.time() - t0
        m.log("flink: step done in %.0f s, Kafka stopped" % res["step_secs"])


def backlog(b, m, port, res):
    a = b.a
    brokers = "127.0.0.1:%d" % port
    bl = os.path.join(b.tmp, "flink-backlog")
    dirs = flink_peer.make_backlog([os.path.join(b.data, s) for s in ("9189", "9606")], a.flink_clones, bl)
    counts = {d: m.count_session(d) for d in dirs}
    msgs, rows, dead = m.totals(counts, dirs, 1, EPS)
    t0 = time.time()
    m.feed(port, dirs, endpoints=EPS)
    wm = m.watermarks(port, [m.DEFAULT_TOPICS[ep] for ep in EPS])
    for ep in EPS:
        if wm[m.DEFAULT_TOPICS[ep]] != (0, msgs[ep]):
            m.die("flink backlog: topic %s holds %s, expected (0, %d)" % (m.DEFAULT_TOPICS[ep],
                                                                       wm[m.DEFAULT_TOPICS[ep]], msgs[ep]))
    n = sum(msgs.values())
    res["backlog"] = {"clones": a.flink_clones, "messages": n, "by_endpoint": {ep: msgs[ep] for ep in EPS},
                      "laps": rows["laps"], "feed_secs": time.time() - t0}
    m.log("flink backlog: %d time-ordered clones of 9189+9606, %d messages (%s) fed to Kafka in %.1f s"
          % (a.flink_clones, n, ", ".join("%s %d" % (ep, msgs[ep]) for ep in EPS), time.time() - t0))

    def after(c, r):
        n_dl, n_v, unexpected = m.q(c, "SELECT (SELECT count(*) FROM f1tel.driver_laps),"
                                       " (SELECT count(*) FROM f1tel.driver_laps_v),"
                                       " (SELECT count(*) FROM f1tel.driver_laps_drift WHERE problem = 'unexpected')")[0]
        r["own_check"] = {"driver_laps": n_dl, "driver_laps_v": n_v, "drift_unexpected": unexpected,
                          "share": (n_dl - unexpected) / float(n_v) if n_v else None}
    r = b.ingest_run(1, "f1tel on Apache Kafka (flink backlog)", expect_msgs=msgs, expect_rows=rows,
                     expect_dead=dead, brokers=brokers, after=after)
    r.pop("samples", None)
    # driver_laps rows per second, first to last commit: the messages' rate x laps / messages
    r["driver_laps_rate"] = r["rate"] * rows["laps"] / float(n) if r["rate"] else None
    res["f1tel"] = r
    m.alter_system({"f1tel.brokers": "127.0.0.1:1"})     # f1tel idle while the job runs
    c = m.connect("bench")
    exp = flink_peer.expected_laps(c)
    exp_rc = m.q1(c, "SELECT count(*) FROM f1tel.race_control")
    c.close()
    dsn = "host=127.0.0.1 port=%d user=postgres" % m.CLUSTER["port"]
    m.log("flink backlog: the job on the same topics, into schema flink of the same database "
          "(expects %d of %d laps, %d race_control rows)" % (exp, rows["laps"], exp_rc))
    fr = flink_peer.run_flink_peer(brokers, dsn, "bench", timeout_s=a.flink_timeout, expect_laps=exp,
                                   expect_rc=exp_rc, quiet_s=10.0, tmp_dir=os.path.join(b.tmp, "flink-run"),
                                   log=lambda s: m.log("flink: " + s))
    fr["steady_laps_per_s"] = (fr["rows"] / (fr["seconds"] - fr["first_row_s"])
                               if fr.get("seconds") and fr.get("first_row_s") is not None
                               and fr["seconds"] > fr["first_row_s"] else None)
    res["flink"] = fr
    c = m.connect("bench")
    res["correctness"] = flink_peer.correctness(c)
    c.close()
    cr = res["correctness"]
    m.log("flink backlog: f1tel %.0f driver_laps rows/s (%.0f msgs/s) first to last commit; Flink %.0f rows/s "
          "(%d of %d laps, %s) submission to last row; equal rows %s of f1tel's %d laps (%.1f%%); "
          "f1tel's driver_laps = driver_laps_v: %.1f%%"
          % (r["driver_laps_rate"] or 0, r["rate"] or 0, fr["laps_per_s"] or 0, fr["rows"], exp,
             "complete" if fr["complete"] else "INCOMPLETE", cr["equal"], cr["laps"], 100.0 * (cr["share"] or 0),
             100.0 * (r["own_check"]["share"] or 0)))


def make_slice(b, m, start_min, minutes, name):
    """The four endpoints of 9189 from 06:<start_min> for minutes (drivers whole, positions with the
    state at the start), as tmp/<name>/9189."""
    src = os.path.join(b.data, "9189")
    dst = os.path.join(b.tmp, name, "9189")
    os.makedirs(dst, exist_ok=True)
    base = datetime.datetime(2023, 11, 19, 6, 0, 0)
    lo = (base + datetime.timedelta(minutes=start_min)).isoformat()
    hi = (base + datetime.timedelta(minutes=start_min + minutes)).isoformat()
    n = {}
    for ep in EPS:
        recs = m.load_records(src, ep)
        f = {"laps": "date_start", "drivers": None}.get(ep, "date")
        keep = recs if f is None else [r for r in recs if r.get(f) and lo <= r[f][:19] < hi]
        if ep == "position":
            # the state at the slice's start: each driver's latest position before it, dated then
            # (without it the seed's job drops every lap until the driver's next position record)
            last = {}
            for r in sorted((r for r in recs if r.get("date") and r["date"][:19] < lo), key=lambda r: r["date"]):
                last[(r.get("session_key"), r.get("driver_number"))] = r
            keep = [dict(r, date=lo + ".000000+00:00") for r in last.values()] + keep
        n[ep] = len(keep)
        with open(os.path.join(dst, ep + ".json"), "w") as fh:
            json.dump(keep, fh, separators=(",", ":"))
    return dst, n, "%s..%s" % (lo[11:16], hi[11:16])


def feed_cmd(brokers, topics, speed, sdir):
    cmd = ["f1tel-feed", "--brokers", brokers, "--speed", str(speed), "--quiet", "--endpoints", ",".join(EPS),
           "-X", "linger.ms=0"]
    for ep, t in topics.items():
        cmd += ["--topic", "%s=%s" % (ep, t)]
    return cmd + [sdir]


def live_runs(b, m, port, live, res):
    a = b.a
    brokers = "127.0.0.1:%d" % port
    sdir, n, span = make_slice(b, m, 30, a.flink_slice_minutes, "flink-slice")
    res["slice"] = {"span_utc": span, "records": n, "speed": 10}
    m.log("flink live: the job on 9189 %s UTC (%s) at --speed 10, fresh topics"
          % (span, ", ".join("%s %d" % kv for kv in sorted(n.items()))))
    dsn = "host=127.0.0.1 port=%d user=postgres" % m.CLUSTER["port"]
    fl = flink_peer.run_flink_peer(brokers, dsn, "bench", timeout_s=a.flink_timeout, quiet_s=8.0,
                                   tmp_dir=os.path.join(b.tmp, "flink-live"), topics=live["flink"],
                                   feed_cmd=feed_cmd(brokers, live["flink"], 10, sdir),
                                   log=lambda s: m.log("flink: " + s))
    res["flink_live"] = fl
    lm = fl.get("latency_ms") or {}
    m.log("flink live: %d laps written, latency CreateTime -> row written p50 %s ms, p99 %s ms"
          % (lm.get("n") or 0, lm.get("p50"), lm.get("p99")))
    res["f1tel_live10"] = f1tel_live(b, m, port, live["f1tel10"], sdir, 10, "10x")
    if a.flink_pace1_minutes > 0:
        sdir1, n1, span1 = make_slice(b, m, 30, a.flink_pace1_minutes, "flink-slice1")
        res["f1tel_live1"] = f1tel_live(b, m, port, live["f1tel1"], sdir1, 1, "1x")
        res["f1tel_live1"]["span_utc"] = span1


def f1tel_live(b, m, port, topics, sdir, speed, label):
    """f1tel (1 worker) on that Kafka at --speed speed of sdir, on fresh topics; latencies from
    latency_poll.py (visibility every 2 ms) and, beside it, live_consumer.py (Kafka's own share)."""
    group = "bench-flink-live-" + label
    settings = {"f1tel.ingest_workers": 1, "f1tel.brokers": "127.0.0.1:%d" % port, "f1tel.group_id": group,
                "f1tel.batch_wait_ms": 0, "f1tel.bigquery_project": ""}
    for ep in m.ENDPOINTS:
        settings["f1tel.topic_" + ep] = topics.get(ep, m.DEFAULT_TOPICS[ep])   # the others: empty topics
    log_at = m.log_size()
    m.alter_system({"f1tel.brokers": "127.0.0.1:1", "f1tel.group_id": group})
    m.wait_log(log_at, 'consuming from 127.0.0.1:1 as group "%s"' % group, 20)
    m.fresh_db("bench")
    m.alter_system(settings, reload=False)
    m.pctl("restart", "-m", "fast")
    c = m.connect("bench")
    if not m.wait_for(lambda: m.q1(c, "SELECT count(*) FROM f1tel.kafka_offsets WHERE group_id = %s",
                                   (group,)) >= len(m.ENDPOINTS), 40, 0.1):
        m.die("flink live %s: the ingest worker was not assigned its partitions" % label)
    pollout = os.path.join(b.tmp, "flink-poll-%s.jsonl" % label)
    poller = m.start_proc("poller", [m.PY, os.path.join(HERE, "latency_poll.py"), "--dsn",
                                     "host=127.0.0.1 port=%d user=postgres dbname=bench" % m.CLUSTER["port"],
                                     "--group", group, "--out", pollout, "--interval", "0.002",
                                     "--max-secs", "400"])
    kout = os.path.join(b.tmp, "flink-kafka-%s.txt" % label)
    kc = m.start_proc("live consumer", [m.PY, os.path.join(HERE, "live_consumer.py"), "--brokers",
                                        "127.0.0.1:%d" % port, "--out", kout] + list(topics.values()),
                      ready=r"ready")
    time.sleep(1.0)
    t0 = time.time()
    r = subprocess.run(feed_cmd("127.0.0.1:%d" % port, topics, speed, sdir), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=3600)
    if r.returncode != 0:
        m.die("flink live %s: f1tel-feed failed: %s" % (label, r.stderr[-500:]))
    feed_secs = time.time() - t0
    wm = m.watermarks(port, list(topics.values()))
    total = sum(hi for lo, hi in wm.values())
    m.wait_for(lambda: m.q1(c, "SELECT coalesce(sum(next_offset), 0) FROM f1tel.kafka_offsets"
                               " WHERE group_id = %s", (group,)) >= total, 30, 0.1)
    time.sleep(0.3)
    m.stop_proc(poller)
    m.stop_proc(kc)
    dl_rows = m.q1(c, "SELECT count(*) FROM f1tel.driver_laps")
    m.alter_system({"f1tel.brokers": "127.0.0.1:1"})
    c.close()
    ts = m.create_times(port, list(topics.values()))
    offs, lap_ev, dl_ev = [], [], {}
    with open(pollout) as fh:
        for line in fh:
            e = json.loads(line)
            if e[0] == "off":
                offs.append(e)
            elif e[0] == "lap":
                lap_ev.append(e)
            elif e[0] == "dl":
                dl_ev[(e[1], e[2], e[3], e[4])] = e[5]
    all_msgs = [(t - ts[(tp, p, o)]) * 1000 for _, tp, p, a_, b_, t in offs for o in range(a_, b_)
                if (tp, p, o) in ts]
    lat_laps, lat_dl, lap_msg = bench_util.lap_latencies(lap_ev, dl_ev, ts, topics["laps"])
    with open(kout) as fh:
        lat_kafka = [float(line.split()[1]) for line in fh]
    out = {"speed": speed, "messages": total, "feed_secs": feed_secs, "driver_laps_rows": dl_rows,
           "driver_laps": summ(m, lat_dl), "laps_rows": summ(m, lat_laps), "all_messages": summ(m, all_msgs),
           "kafka_only": summ(m, lat_kafka)}
    for k in ("kafka_only", "driver_laps", "all_messages"):
        s = out[k]
        m.log("flink live, f1tel %s: %s n=%d p50 %s ms, p99 %s ms, max %s ms" % (
            label, k, s["n"], b._fmt(s["p50"], "ms p99"), b._fmt(s["p99"], "ms p99"), b._fmt(s["max"], "ms p99")))
    return out


def report(b, fig, goal, ratio):
    """The step's figures and goals (report() of bench.py calls it after its own)."""
    x = b.res["runs"].get("flink")
    if not x:
        return
    f1, fr, bl = x.get("f1tel") or {}, x.get("flink") or {}, x.get("backlog") or {}
    fmt = b._fmt
    kafka = "same Apache Kafka (1 partition per topic), same cluster"
    rf = fig("flink_f1tel_rate", "flink step: f1tel driver_laps rows/s on the flink backlog (first to last commit)",
             f1.get("driver_laps_rate"), "rows/s", None,
             "%s; %s clones of 9189+9606, 4 topics, %s messages, %s laps; %s msgs/s x laps/messages; "
             "with the group join %s msgs/s" % (kafka, bl.get("clones"), fmt(bl.get("messages")), fmt(bl.get("laps")),
                                              fmt(f1.get("rate")), fmt(f1.get("rate_from_enable"))))
    rl = fig("flink_rate", "flink step: Flink peer (the seed's PyFlink job) driver_laps rows/s (submitted -> last row)",
             fr.get("laps_per_s"), "rows/s", None,
             "%s of %s expected laps%s, %s race_control rows; JVM+planner start %s s before; first row after %s s; "
             "first to last row %s rows/s" % (fmt(fr.get("rows")), fmt(fr.get("expect_laps")),
                                              "" if fr.get("complete") else " (INCOMPLETE)",
                                              fmt(fr.get("race_control_rows")), fmt(fr.get("startup_s"), "%"),
                                              fmt(fr.get("first_row_s"), "%"), fmt(fr.get("steady_laps_per_s"))))
    rr = fig("r_flink", "ratio f1tel / Flink peer, driver_laps rows/s (flink backlog)", ratio(rf, rl), "x")
    fl = (x.get("flink_live") or {}).get("latency_ms") or {}
    l10, l1 = x.get("f1tel_live10") or {}, x.get("f1tel_live1") or {}
    sl = x.get("slice") or {}
    fp99 = fig("flink_lat", "flink step: Flink latency CreateTime -> driver_laps row written, 10x", fl.get("p99"),
               "ms p99", None, "9189 %s UTC at --speed 10; n=%s p50 %s max %s (the row's last write)"
               % (sl.get("span_utc"), fl.get("n"), fmt(fl.get("p50"), "ms p99"), fmt(fl.get("max"), "ms p99")))
    p99 = {}
    for k, r, what in (("10", l10, "10x"), ("1", l1, "live pace (1x)")):
        if not r:
            continue
        s, kk, am = r["driver_laps"], r["kafka_only"], r["all_messages"]
        p99[k] = fig("flink_f1tel_lat" + k, "flink step: f1tel latency CreateTime -> driver_laps row visible, %s, "
                     "Apache Kafka" % what, s["p99"], "ms p99", None,
                     "n=%d p50 %s max %s; Kafka's own share (plain consumer beside f1tel) p99 %s ms (p50 %s); all "
                     "messages committed p99 %s ms (n=%d)" % (s["n"], fmt(s["p50"], "ms p99"), fmt(s["max"], "ms p99"),
                                                              fmt(kk["p99"], "ms p99"), fmt(kk["p50"], "ms p99"),
                                                              fmt(am["p99"], "ms p99"), am["n"]))
    rlat = fig("r_flink_lat", "ratio Flink p99 / f1tel p99, produce -> driver_laps (10x)", ratio(fp99, p99.get("10")),
               "x")
    anon = max(f1.get("rss_anon_peak_kb") or [0]) / 1024.0 or None
    hwm = max(f1.get("vmhwm_kb") or [0]) / 1024.0 or None
    frss = (fr.get("rss_kb_max") or 0) / 1024.0 or None
    fig("flink_rss", "flink step: Flink peer peak RSS (Python + JVM, VmRSS summed)", frss, "MB", None,
        "by process %s MB; private (RssAnon) %s MB" % (
            "/".join("%s %d" % (k, v // 1024) for k, v in sorted((fr.get("rss_kb_max_by_proc") or {}).items())),
            fmt((fr.get("rss_anon_kb_max") or 0) / 1024.0 or None, "MB")))
    fig("flink_f1tel_rss", "flink step: f1tel ingest worker private memory peak (RssAnon) on the flink backlog",
        anon, "MB", None, "VmHWM %s MB (it counts the shared buffers the worker touched, PostgreSQL's)" % fmt(hwm, "MB"))
    rmem = fig("r_flink_mem", "ratio Flink peak RSS / f1tel worker RssAnon peak", ratio(frss, anon), "x")
    cr = x.get("correctness") or {}
    own = f1.get("own_check") or {}
    fig("flink_equal", "flink step: share of f1tel's laps where Flink's row equals driver_laps_v",
             cr["share"] * 100 if cr.get("share") is not None else None, "%", None,
             "%s of %s laps. Flink wrote %s (equal: %s%% of those); of them %s differ in position, by the rule "
             "(the seed takes the position held at date_start, f1tel the one at lap_end; the job's own errors, "
             "rows whose position is not the seed's rule's on the same input: %s), %s in other columns; %s laps Flink never wrote (the "
             "seed drops a lap without a position at or before date_start, and the last ~5 s of the backlog stay "
             "behind its watermark)"
             % (fmt(cr.get("equal")), fmt(cr.get("laps")), fmt(cr.get("flink_rows")),
                fmt((cr.get("share_of_written") or 0) * 100, "%"), fmt(cr.get("diff_position")),
                fmt(cr.get("diff_seed_position")),
                ", ".join("%s %d" % (c[5:], v) for c, v in sorted(cr.items())
                          if c.startswith("diff_") and c not in ("diff_position", "diff_seed_position") and v)
                or "none", fmt((cr.get("laps") or 0) - (cr.get("flink_rows") or 0))))
    own_share = own["share"] * 100 if own.get("share") is not None else None
    fig("flink_f1tel_equal", "flink step: f1tel's driver_laps equal to driver_laps_v (its own check)", own_share, "%",
        None, "%s of %s rows; driver_laps_drift 'unexpected' %s" % (fmt(own.get("driver_laps")),
                                                                 fmt(own.get("driver_laps_v")),
                                                                 fmt(own.get("drift_unexpected"))))
    goal("f1tel >= 10 x Flink peer, driver_laps rows/s (same backlog, same Kafka)", rr, 10, rr is not None and rr >= 10)
    goal("f1tel p99 produce -> driver_laps <= 1/50 of Flink's (10x): Flink / f1tel", rlat, 50,
         rlat is not None and rlat >= 50)
    for k, what in (("1", "live pace"), ("10", "10x")):
        v = p99.get(k)
        goal("p99 produce -> driver_laps visible <= 10 ms on Apache Kafka, %s" % what, v, 10, v is not None and v <= 10)
    goal("f1tel worker memory <= 1/5 of Flink's: Flink RSS / f1tel RssAnon", rmem, 5, rmem is not None and rmem >= 5)
    goal("f1tel's driver_laps = driver_laps_v (flink backlog), %", own_share, 100,
         own_share is not None and own_share >= 100)
