#!/usr/bin/python3
"""The benchmark's push step (a mixin of bench.Bench): the f1tel sink against the
local BigQuery server answering each insertAll --bq-latency-ms late, the
seed's sync script done with google-cloud-bigquery (peer_push_gcbq.py), the
old http.client peer (--push-http-peer), the server's own limit, and
commit -> acknowledgement with the sink caught up.  Methods use self.a (the
options), self.res (the results) and the helpers of bench_util.py.
"""

import json
import os
import subprocess
import time


from bench_util import *  # noqa: F401,F403  (the helpers and constants of bench_util.py)


class PushSteps:
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
