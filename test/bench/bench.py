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
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time


import bench_flink      # the "flink" step (bench_flink.py)
import bench_util
from bench_latency import LatencySteps
from bench_push import PushSteps
from bench_report import Report
from bench_util import *  # noqa: F401,F403  (helpers and constants)


class Bench(PushSteps, LatencySteps, Report):
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
                                           "f1tel.batch_wait_ms 0" % bench_util.KAFKA_CONFIG)
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
    if a.kafka_extra:
        bench_util.KAFKA_CONFIG += ", " + a.kafka_extra
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
