#!/usr/bin/python3
"""The benchmark's latency and growth steps (a mixin of bench.Bench): a slice of
9189 replayed at --speed with the sink on, visibility polled by
latency_poll.py and Kafka's own share by live_consumer.py; then a backlog
twice as large, rate and CPU per message of its first and second halves.
"""

import json
import os
import re
import time


from bench_util import *  # noqa: F401,F403  (the helpers and constants of bench_util.py)


class LatencySteps:
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
        lat_laps, lat_dl, lap_msg = lap_latencies(lap_ev, dl_ev, ts, "f1_laps")
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
