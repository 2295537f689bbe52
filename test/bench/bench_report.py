#!/usr/bin/python3
"""The benchmark's report (a mixin of bench.Bench): every figure from self.res's
runs, the goals with PASS/MISS, the table printed and written to --out.
"""

import datetime
import time


import bench_flink

from bench_util import *  # noqa: F401,F403  (the helpers and constants of bench_util.py)


class Report:
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
