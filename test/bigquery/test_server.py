"""Unit tests of the local BigQuery server (test/bigquery/server.py).

Run:  /usr/bin/python3 test/bigquery/test_server.py [-v]
(or PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest discover -s test/bigquery).
Each test class starts its own server process on a free port (--port 0) and
talks to it over HTTP with http.client; JWTs are signed with `openssl`.
The views are the ones f1tel's sink creates (view_query() in src/sink/bigquery.c).
GoogleClientTest drives the server with Google's client, google-cloud-bigquery, run by
$F1TEL_BQ_PYTHON (test/install-deps.sh makes that venv); it is skipped when no python
has the client, unless F1TEL_REQUIRE_BQ_CLIENTS=1 (test/run-tests.sh), which fails it.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.dont_write_bytecode = True

import bqtypes  # noqa: E402
import server_proc  # noqa: E402


def start_server(*args):
    return server_proc.start(SERVER, "--quiet", *args)


def stop_server(p):
    server_proc.stop(p)


class Client:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def req(self, method, path, body=None, headers=None, raw=False):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, data, h)
        r = c.getresponse()
        payload = r.read()
        c.close()
        if raw:
            return r.status, payload, r
        try:
            return r.status, json.loads(payload) if payload else None
        except ValueError:
            return r.status, payload

    def api(self, method, rel, body=None, **kw):
        return self.req(method, "/bigquery/v2/projects/p/" + rel, body, **kw)


SCHEMA = [{"name": "session_key", "type": "INT64", "mode": "REQUIRED"},
          {"name": "driver_number", "type": "INTEGER"},
          {"name": "lap_number", "type": "INTEGER"},
          {"name": "version", "type": "INTEGER"},
          {"name": "lap_duration", "type": "FLOAT"},
          {"name": "date_start", "type": "TIMESTAMP"},
          {"name": "is_pit_out_lap", "type": "BOOL"},
          {"name": "team_name", "type": "STRING"}]

# the sink's views, as view_query() in src/sink/bigquery.c writes them (project p, dataset ds)
LATEST_SESSION = "(SELECT session_key FROM `p.ds.driver_laps` ORDER BY date_start DESC LIMIT 1)"
SINK_VIEWS = {
    "driver_laps_latest": "SELECT * FROM `p.ds.driver_laps` WHERE TRUE QUALIFY ROW_NUMBER() OVER "
                          "(PARTITION BY session_key, driver_number, lap_number ORDER BY version DESC) = 1",
    "driver_laps_latest_session": "SELECT * FROM `p.ds.driver_laps_latest` WHERE session_key = "
                                  + LATEST_SESSION,
    "race_control_latest_session": "SELECT * FROM `p.ds.race_control` WHERE session_key = "
                                   + LATEST_SESSION,
}


class ServerTest(unittest.TestCase):
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_server(*cls.args)
        cls.c = Client(cls.port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.proc)

    def setUp(self):
        self.assertEqual(self.c.req("POST", "/_reset")[0], 200)

    def make_table(self, t="laps", schema=SCHEMA, **extra):
        self.c.api("POST", "datasets", {"datasetReference": {"datasetId": "ds"}})
        body = {"tableReference": {"tableId": t}, "schema": {"fields": schema}}
        body.update(extra)
        st, r = self.c.api("POST", "datasets/ds/tables", body)
        self.assertEqual(st, 200, r)
        return r

    def insert(self, rows, t="laps", **opts):
        body = dict(opts)
        body["rows"] = rows
        return self.c.api("POST", "datasets/ds/tables/%s/insertAll" % t, body)

    def query(self, sql, **opts):
        body = {"query": sql, "useLegacySql": False}
        body.update(opts)
        return self.c.api("POST", "queries", body)

    def values(self, r):
        return [[c["v"] for c in row["f"]] for row in r.get("rows", [])]

    def stored(self, t="laps"):
        return self.c.req("GET", "/_stats")[1]["rows"].get("p:ds." + t)


class InsertAllTest(ServerTest):
    def test_valid_rows_and_list(self):
        self.make_table()
        st, r = self.insert([{"insertId": "1", "json": {
            "session_key": 9158, "driver_number": 1, "lap_number": 1, "version": 1,
            "lap_duration": 91.25, "date_start": "2023-09-17T12:00:00.5+00:00",
            "is_pit_out_lap": False, "team_name": "Red Bull Racing"}}])
        self.assertEqual((st, r), (200, {"kind": "bigquery#tableDataInsertAllResponse"}))
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data")
        self.assertEqual((st, r["totalRows"]), (200, "1"))
        self.assertEqual(self.values(r), [["9158", "1", "1", "1", "91.25", "1.6949520005E9", "false",
                                           "Red Bull Racing"]])
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data?formatOptions.useInt64Timestamp=true")
        self.assertEqual(self.values(r)[0][5], "1694952000500000")
        st, r = self.c.api("GET", "datasets/ds/tables/laps")
        self.assertEqual((r["numRows"], r["streamingBuffer"]["estimatedRows"]), ("0", "1"))

    def test_unknown_field_invalid_and_stopped(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}},
                             {"json": {"session_key": 2, "bogus": 1}},
                             {"json": {"session_key": 3}}])
        self.assertEqual(st, 200)
        errs = {e["index"]: e["errors"] for e in r["insertErrors"]}
        self.assertEqual(errs[1], [{"reason": "invalid", "location": "bogus", "debugInfo": "",
                                    "message": "no such field."}])
        self.assertEqual((errs[0][0]["reason"], errs[2][0]["reason"]), ("stopped", "stopped"))
        self.assertEqual(self.stored(), 0)

    def test_skip_invalid_rows_and_ignore_unknown(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}},
                             {"json": {"driver_number": 5}},           # REQUIRED missing
                             {"json": {"session_key": 3, "version": 1.5}}],
                            skipInvalidRows=True)
        self.assertEqual([e["index"] for e in r["insertErrors"]], [1, 2])
        self.assertEqual(r["insertErrors"][0]["errors"][0]["message"],
                         "Missing required field: session_key.")
        st, r = self.insert([{"json": {"session_key": 4, "extra": "x"}}], ignoreUnknownValues=True)
        self.assertNotIn("insertErrors", r)
        self.assertEqual(self.stored(), 2)

    def test_body_checked_against_discovery(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}}], skipInvalidRow=True)
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (400, "invalid"))
        self.assertEqual(r["error"]["message"], 'Invalid JSON payload received. Unknown name '
                         '"skipInvalidRow": Cannot find field.')
        st, r = self.c.api("POST", "datasets/ds/tables/laps/insertAll",
                           {"rows": [{"insertID": "x", "json": {"session_key": 1}}]})
        self.assertEqual(st, 400)
        self.assertIn("Unknown name \"insertID\" at 'rows[0]'", r["error"]["message"])
        st, r = self.insert([{"json": {"session_key": 1}}], skip_invalid_rows="yes")  # snake_case too
        self.assertEqual(r["error"]["message"], "Invalid value at 'skip_invalid_rows' (TYPE_BOOL), \"yes\"")
        st, r = self.c.api("POST", "datasets/ds/tables", {"tableReference": {"tableId": "t"},
                                                          "schema": {"fields": [{"nme": "x"}]}})
        self.assertEqual(st, 400)
        self.assertIn("at 'schema.fields[0]'", r["error"]["message"])
        self.assertEqual(self.stored(), 0)

    def test_dedup(self):
        self.make_table()
        rows = [{"insertId": "k1", "json": {"session_key": 1}},
                {"insertId": "k2", "json": {"session_key": 2}}]
        self.insert(rows)
        st, r = self.insert(rows + [{"insertId": "k3", "json": {"session_key": 3}}])
        self.assertEqual((st, r), (200, {"kind": "bigquery#tableDataInsertAllResponse"}))
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual((s["rows"]["p:ds.laps"], s["insert_all"]["rows_deduplicated"]), (3, 2))
        self.insert([{"json": {"session_key": 4}}] * 2)  # no insertId: no de-duplication
        self.assertEqual(self.stored(), 5)
        self.c.req("POST", "/_clock", {"advance_s": 601})
        self.insert(rows)
        self.assertEqual(self.stored(), 7)

    def test_limits(self):
        self.make_table()
        st, r = self.insert([])
        self.assertEqual((st, r["error"]["message"]), (400, "No rows present in the request."))
        st, r = self.insert([{"insertId": "x" * 129, "json": {"session_key": 1}}])
        self.assertEqual(st, 400)
        st, r = self.insert([{"json": {"session_key": 1}}] * 50001)
        self.assertEqual(st, 400)
        self.assertIn("too many rows", r["error"]["message"])
        big = [{"json": {"session_key": 1, "team_name": "x" * 100000}}] * 110   # ~11 MB
        st, r = self.insert(big)
        self.assertEqual((st, r["error"]["message"]),
                         (400, "Request payload size exceeds the limit: 10485760 bytes."))
        huge = json.dumps({"rows": [{"json": {"session_key": 1, "team_name": "x" * 1000000}}] * 13})
        st, body, resp = self.c.api("POST", "datasets/ds/tables/laps/insertAll", huge.encode(), raw=True)
        self.assertEqual(st, 413)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"413.", body)
        self.assertEqual(self.stored(), 0)

    def test_types(self):
        schema = [{"name": n, "type": t} for n, t in
                  [("i", "INTEGER"), ("f", "FLOAT64"), ("b", "BOOLEAN"), ("ts", "TIMESTAMP"), ("s", "STRING")]]
        r = self.make_table("ty", schema)
        self.assertEqual([f["type"] for f in r["schema"]["fields"]],
                         ["INTEGER", "FLOAT", "BOOLEAN", "TIMESTAMP", "STRING"])
        good = {"i": "9007199254740993", "f": "1e3", "b": "true", "ts": 1694952000, "s": 5}
        st, r = self.insert([{"json": good}], t="ty")
        self.assertNotIn("insertErrors", r)
        st, r = self.c.api("GET", "datasets/ds/tables/ty/data")
        self.assertEqual(self.values(r), [["9007199254740993", "1000.0", "true", "1.694952E9", "5"]])
        for bad in ({"i": 1.5}, {"i": "x"}, {"i": True}, {"b": "maybe"}, {"ts": "yesterday"},
                    {"ts": "2023-02-30 00:00:00"}, {"f": "x"}, {"s": {"a": 1}}, {"i": [1]}):
            st, r = self.insert([{"json": bad}], t="ty")
            self.assertEqual(r["insertErrors"][0]["errors"][0]["reason"], "invalid", bad)
            self.assertEqual(r["insertErrors"][0]["errors"][0]["location"], list(bad)[0])
        for fields, words in (([{"name": "d", "type": "DATE"}], "DATE is not modelled"),
                              ([{"name": "a", "type": "STRING", "mode": "REPEATED"}], "REPEATED is not"),
                              ([{"name": "x", "type": "INTEGR"}], "INTEGR is not a valid value"),
                              ([{"name": "x", "type": "STRING"}, {"name": "X", "type": "STRING"}],
                               "already exists")):
            st, r = self.c.api("POST", "datasets/ds/tables", {"tableReference": {"tableId": "bad"},
                                                              "schema": {"fields": fields}})
            self.assertEqual(st, 400)
            self.assertIn(words, r["error"]["message"])

    def test_missing_table_and_view(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}}], t="nope")
        self.assertEqual((st, r["error"]["message"]), (404, "Not found: Table p:ds.nope"))
        self.c.api("POST", "datasets/ds/tables", {"tableReference": {"tableId": "v"}, "view": {
            "query": "SELECT * FROM ds.laps", "useLegacySql": False}})
        st, r = self.insert([{"json": {"session_key": 1}}], t="v")
        self.assertEqual(st, 400)


class RoutingTest(ServerTest):
    def test_routes(self):
        self.make_table()
        st, body, resp = self.c.req("GET", "/$discovery/rest?version=v2", raw=True)
        doc = json.loads(body)
        self.assertEqual((st, doc["id"]), (200, "bigquery:v2"))
        self.assertEqual(doc["rootUrl"], "http://127.0.0.1:%d/" % self.port)
        st, r = self.c.api("DELETE", "datasets/ds")            # a real method, not modelled
        self.assertEqual((st, r["error"]["status"]), (501, "UNIMPLEMENTED"))
        st, body, resp = self.c.api("GET", "datasets/ds/nothing", raw=True)
        self.assertEqual((st, resp.getheader("Content-Type")), (404, "text/html; charset=UTF-8"))
        st, body, resp = self.c.req("GET", "/projects/p/datasets/ds", raw=True)  # no /bigquery/v2
        self.assertEqual(st, 404)
        st, r = self.c.api("POST", "datasets", {"datasetReference": {"datasetId": "ds"}})
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (409, "duplicate"))
        st, r = self.c.api("GET", "datasets")
        self.assertEqual([d["id"] for d in r["datasets"]], ["p:ds"])
        st, r = self.c.api("GET", "datasets/ds/tables")
        self.assertEqual([t["id"] for t in r["tables"]], ["p:ds.laps"])

    def test_paging(self):
        self.make_table()
        self.insert([{"json": {"session_key": i}} for i in range(5)])
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data?maxResults=2")
        self.assertEqual((self.values(r), r["totalRows"]), ([["0"] + [None] * 7, ["1"] + [None] * 7], "5"))
        seen = []
        tok = ""
        while tok is not None:
            st, r = self.c.api("GET", "datasets/ds/tables/laps/data?maxResults=2" + tok)
            seen += [v[0] for v in self.values(r)]
            tok = "&pageToken=" + r["pageToken"] if "pageToken" in r else None
        self.assertEqual(seen, ["0", "1", "2", "3", "4"])
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data?startIndex=4")
        self.assertEqual(self.values(r)[0][0], "4")


class FaultTest(ServerTest):
    def test_503_then_success(self):
        self.make_table()
        st, r = self.c.req("POST", "/_fault", {"status": 503, "count": 2, "path_contains": "insertAll"})
        self.assertEqual(st, 200)
        self.assertEqual(self.c.api("GET", "datasets/ds")[0], 200)   # another path: no fault
        for _ in range(2):
            st, r = self.insert([{"json": {"session_key": 1}}])
            self.assertEqual((st, r["error"]["errors"][0]["reason"]), (503, "backendError"))
        st, r = self.insert([{"json": {"session_key": 1}}])
        self.assertEqual(st, 200)
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual(s["requests"]["bigquery.tabledata.insertAll"], {"503": 2, "200": 1})
        self.assertEqual((s["rows"]["p:ds.laps"], s["faults_applied"]), (1, 2))

    def test_html_and_reason(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"status": 413, "body": "html"})
        self.c.req("POST", "/_fault", {"status": 429, "reason": "quotaExceeded"})
        st, body, resp = self.c.api("GET", "datasets/ds", raw=True)
        self.assertEqual((st, resp.getheader("Content-Type")), (413, "text/html; charset=UTF-8"))
        self.assertIn(b"413.", body)
        st, r = self.c.api("GET", "datasets/ds")
        self.assertEqual((st, r["error"]["errors"][0]["reason"], r["error"]["status"]),
                         (429, "quotaExceeded", "RESOURCE_EXHAUSTED"))
        self.assertTrue(r["error"]["message"].startswith("Quota exceeded"))

    def test_reset_and_delay(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"reset": True, "path_contains": "insertAll"})
        body = json.dumps({"rows": [{"insertId": "a", "json": {"session_key": 1}}]}).encode()
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"POST /bigquery/v2/projects/p/datasets/ds/tables/laps/insertAll HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        with self.assertRaises(ConnectionResetError):          # a TCP RST, not a FIN
            s.recv(1000)
        s.close()
        self.assertEqual(self.stored(), 0)                      # not processed
        self.c.req("POST", "/_fault", {"delay_ms": 300})
        t0 = time.time()
        st, r = self.insert([{"insertId": "a", "json": {"session_key": 1}}])
        self.assertGreaterEqual(time.time() - t0, 0.3)
        self.assertEqual(st, 200)
        self.insert([{"insertId": "a", "json": {"session_key": 1}}])  # the retry of a late answer
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual((s["rows"]["p:ds.laps"], s["insert_all"]["rows_deduplicated"]), (1, 1))

    def test_hang_until_cleared(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"hang": True, "path_contains": "insertAll"})
        out = {}

        def insert():
            out["st"] = self.insert([{"insertId": "h", "json": {"session_key": 1}}])[0]
        t = threading.Thread(target=insert)
        t.start()
        deadline = time.time() + 10
        while self.c.req("GET", "/_stats")[1]["hanging"] != 1 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.c.req("GET", "/_stats")[1]["hanging"], 1)
        self.assertEqual(self.stored(), 0)                      # held unprocessed
        self.assertEqual(self.c.req("DELETE", "/_fault")[0], 200)
        t.join(10)
        self.assertEqual((out.get("st"), self.stored()), (200, 1))  # then processed
        self.assertEqual(self.c.req("GET", "/_stats")[1]["hanging"], 0)

    def test_bad_fault(self):
        for bad in ({"statsu": 500}, {"status": 200}, {"count": 2}, {"status": 500, "body": "text"},
                    {"delay_ms": "5"}, {"hang": 1}):
            self.assertEqual(self.c.req("POST", "/_fault", bad)[0], 400, bad)


class LatencyTest(ServerTest):
    """--insert-latency-ms (BigQuery's request latency, for the benchmark): each insertAll
    answer waits, holding no lock, so concurrent requests overlap instead of queueing."""
    MS = 300
    args = ("--insert-latency-ms", str(MS))

    def rows(self, base, n=20):
        return [{"insertId": "r%d" % (base + i), "json": {"session_key": 1, "lap_number": base + i}}
                for i in range(n)]

    def timed_inserts(self, n):
        """n insertAll requests at once, each on its own connection: (seconds, [statuses])."""
        out = [None] * n
        go = threading.Barrier(n + 1)

        def one(i):
            go.wait()
            out[i] = self.insert(self.rows(1000 * (i + 1)))[0]
        ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ths:
            t.start()
        go.wait()
        t0 = time.time()
        for t in ths:
            t.join()
        return time.time() - t0, out

    def test_one_insert_waits(self):
        self.make_table()
        t0 = time.time()
        st, r = self.insert(self.rows(0))
        took = time.time() - t0
        self.assertEqual((st, r.get("insertErrors")), (200, None), r)
        self.assertGreaterEqual(took, self.MS / 1000.0)
        self.assertLess(took, self.MS / 1000.0 * 3)
        # processed before the wait: stored, and counted
        st, stats = self.c.req("GET", "/_stats")
        self.assertEqual((stats["rows"]["p:ds.laps"], stats["insert_latency_ms"]), (20, self.MS))
        # other methods are not delayed
        t0 = time.time()
        self.assertEqual(self.c.api("GET", "datasets/ds/tables/laps")[0], 200)
        self.assertLess(time.time() - t0, self.MS / 1000.0)

    def test_concurrent_inserts_overlap(self):
        self.make_table()
        took, statuses = self.timed_inserts(8)
        self.assertEqual(statuses, [200] * 8)
        # 8 at once take about one latency; serialised they would take 8 (2.4 s)
        self.assertGreaterEqual(took, self.MS / 1000.0)
        self.assertLess(took, self.MS / 1000.0 * 3, "concurrent inserts were serialised: %.2f s" % took)
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"]["p:ds.laps"], 160)

    def test_other_requests_go_on_while_inserts_wait(self):
        self.make_table()
        th = threading.Thread(target=self.timed_inserts, args=(4,))
        th.start()
        time.sleep(self.MS / 1000.0 / 3)  # the 4 inserts are waiting now
        t0 = time.time()
        st, r = self.c.api("POST", "queries", {"query": "SELECT COUNT(*) FROM `p.ds.laps`",
                                               "useLegacySql": False})
        took = time.time() - t0
        th.join()
        self.assertEqual(st, 200, r)
        self.assertEqual(r["rows"], [{"f": [{"v": "80"}]}])  # stored before the wait
        self.assertLess(took, self.MS / 1000.0 / 2, "a query waited for sleeping inserts")

    def test_set_at_run_time(self):
        self.make_table()
        self.assertEqual(self.c.req("POST", "/_latency", {"insert_all_ms": 0}), (200, {"insert_all_ms": 0}))
        t0 = time.time()
        self.assertEqual(self.insert(self.rows(0))[0], 200)
        self.assertLess(time.time() - t0, self.MS / 1000.0)
        self.assertEqual(self.c.req("POST", "/_latency", {"insert_all_ms": 150})[0], 200)
        took, statuses = self.timed_inserts(6)
        self.assertEqual(statuses, [200] * 6)
        self.assertGreaterEqual(took, 0.15)
        self.assertLess(took, 0.15 * 3)
        for bad in ({"insert_all_ms": -1}, {"insert_all_ms": "5"}, {"insert_all_ms": True}, {},
                    {"insert_all_ms": 1, "x": 1}, [1]):
            self.assertEqual(self.c.req("POST", "/_latency", bad)[0], 400, bad)
        # /_reset restores the command line's value
        self.assertEqual(self.c.req("POST", "/_reset")[0], 200)
        self.assertEqual(self.c.req("GET", "/_stats")[1]["insert_latency_ms"], self.MS)


class QueryTest(ServerTest):
    def fill(self):
        self.make_table("driver_laps")
        rows = []
        for s in (9158, 9165):
            for d in (1, 44):
                for lap in (1, 2):
                    for v in (1, 2):
                        rows.append({"json": {"session_key": s, "driver_number": d, "lap_number": lap,
                                              "version": v, "lap_duration": 90 + v,
                                              "date_start": "2023-09-%02d 12:%02d:00" % (s - 9150, lap)}})
        self.insert(rows, t="driver_laps")
        self.make_table("race_control", [{"name": "id", "type": "INT64"},
                                         {"name": "session_key", "type": "INT64"}])
        self.insert([{"json": {"id": i, "session_key": s}} for i, s in enumerate((9158, 9165, 9165))],
                    t="race_control")

    def test_count_and_legacy(self):
        self.fill()
        st, r = self.query("SELECT COUNT(*) FROM `p.ds.driver_laps`")
        self.assertEqual(st, 200, r)
        self.assertEqual(r["schema"]["fields"], [{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}])
        self.assertEqual((self.values(r), r["jobComplete"]), ([["16"]], True))
        st, r = self.query("select count(*) as n from ds.driver_laps where session_key = 9165")
        self.assertEqual((r["schema"]["fields"][0]["name"], self.values(r)), ("n", [["8"]]))
        st, r = self.c.api("POST", "queries", {"query": "SELECT COUNT(*) FROM ds.driver_laps"})
        self.assertEqual(st, 400)
        self.assertIn("Legacy SQL", r["error"]["message"])

    def test_sink_views(self):
        self.fill()
        for name, sql in SINK_VIEWS.items():
            st, r = self.c.api("POST", "datasets/ds/tables", {
                "tableReference": {"projectId": "p", "datasetId": "ds", "tableId": name},
                "view": {"query": sql, "useLegacySql": False}})
            self.assertEqual((st, r.get("type")), (200, "VIEW"), r)
        self.assertEqual(len(r["schema"]["fields"]), 2)
        counts = {}
        for name in ["driver_laps"] + list(SINK_VIEWS):
            st, r = self.query("SELECT COUNT(*) FROM `p.ds.%s`" % name)
            counts[name] = int(self.values(r)[0][0])
        self.assertEqual(counts, {"driver_laps": 16, "driver_laps_latest": 8,
                                  "driver_laps_latest_session": 4, "race_control_latest_session": 2})
        st, r = self.query("SELECT session_key, driver_number, lap_number, version "
                           "FROM `p.ds.driver_laps_latest_session` ORDER BY driver_number, lap_number")
        self.assertEqual(self.values(r), [["9165", "1", "1", "2"], ["9165", "1", "2", "2"],
                                          ["9165", "44", "1", "2"], ["9165", "44", "2", "2"]])
        # a newer row version shows through; a newer session takes over
        self.insert([{"json": {"session_key": 9165, "driver_number": 1, "lap_number": 1, "version": 3}},
                     {"json": {"session_key": 9200, "driver_number": 1, "lap_number": 1, "version": 1,
                               "date_start": "2023-10-01 12:00:00"}}], t="driver_laps")
        st, r = self.query("SELECT version FROM ds.driver_laps_latest WHERE session_key = 9165 "
                           "AND driver_number = 1 AND lap_number = 1")
        self.assertEqual(self.values(r), [["3"]])
        st, r = self.query("SELECT COUNT(*) FROM ds.driver_laps_latest_session")
        self.assertEqual(self.values(r), [["1"]])
        # BigQuery refuses a view whose query is wrong when it is created
        for q in ("SELECT * FROM ds.driver_laps WHERE sesion_key = 1", "SELECT * FROM ds.nope",
                  "SELECT * FROM ds.driver_laps WHERE session_key = (SELECT * FROM ds.driver_laps)"):
            st, r = self.c.api("POST", "datasets/ds/tables", {
                "tableReference": {"tableId": "bad"}, "view": {"query": q, "useLegacySql": False}})
            self.assertIn(st, (400, 404), q)
        st, r = self.c.api("POST", "datasets/ds/tables", {
            "tableReference": {"tableId": "legacy"}, "view": {"query": "SELECT 1"}})
        self.assertEqual(st, 400)

    def test_where_order_limit_paging(self):
        self.fill()
        st, r = self.query("SELECT driver_number, lap_number, version AS v FROM ds.driver_laps "
                           "WHERE session_key = 9165 AND driver_number >= 44 AND lap_duration > 91.5 "
                           "ORDER BY lap_number DESC, version LIMIT 3", maxResults=1)
        self.assertEqual([f["name"] for f in r["schema"]["fields"]], ["driver_number", "lap_number", "v"])
        self.assertEqual((self.values(r), r["totalRows"]), ([["44", "2", "2"]], "2"))
        st, r2 = self.c.api("GET", "queries/%s?pageToken=%s" % (r["jobReference"]["jobId"], r["pageToken"]))
        self.assertEqual(self.values(r2), [["44", "1", "2"]])
        st, r = self.query("SELECT * FROM ds.driver_laps WHERE session_key = 1")
        self.assertEqual((r["totalRows"], "rows" in r), ("0", False))
        st, r = self.query("SELECT team_name, date_start FROM ds.driver_laps "
                           "WHERE team_name != 'x' ORDER BY date_start DESC LIMIT 1")
        self.assertEqual(r["totalRows"], "0")                    # NULL != 'x' is not true
        self.insert([{"json": {"session_key": 1, "team_name": "y"}}], t="driver_laps")
        st, r = self.query("SELECT date_start FROM ds.driver_laps ORDER BY date_start LIMIT 2")
        self.assertEqual(self.values(r), [[None], ["1.69417446E9"]])  # NULLs first ascending

    def test_refused(self):
        self.fill()
        for sql in ("SELECT * FROM ds.driver_laps a JOIN ds.driver_laps b USING (session_key)",
                    "SELECT session_key, COUNT(*) FROM ds.driver_laps GROUP BY session_key",
                    "SELECT * FROM ds.driver_laps UNION ALL SELECT * FROM ds.driver_laps",
                    "DELETE FROM ds.driver_laps", "WITH x AS (SELECT 1) SELECT * FROM x"):
            st, r = self.query(sql)
            self.assertEqual(st, 400, sql)
            self.assertIn("query shape not supported by the local server", r["error"]["message"])
            self.assertEqual(r["error"]["errors"][0]["location"], "q")
        for sql, words in (("SELECT nope FROM ds.driver_laps", "Unrecognized name: nope at [1:8]"),
                           ("SELECT * FROM driver_laps", "must be qualified with a dataset"),
                           ("SELECT * FROM ds.driver_laps WHERE session_key = 'x'",
                            "No matching signature for operator = for argument types: INT64, STRING"),
                           ("SELECT * FROM ds.driver_laps WHERE date_start > 5", "TIMESTAMP, INT64"),
                           ("SELECT * FROM ds.driver_laps WHERE session_key", "should return type BOOL"),
                           ("SELECT version AS v FROM ds.driver_laps ORDER BY v", "not supported"),
                           ("SELECT session_key, COUNT(*) FROM ds.driver_laps", "neither grouped"),
                           ("SELECT * FROM ds.driver_laps WHERE ROW_NUMBER() OVER () = 1",
                            "not allowed in WHERE"),
                           ("SELECT * FROM ds.driver_laps WHERE session_key = "
                            "(SELECT session_key FROM ds.driver_laps)", "more than one element")):
            st, r = self.query(sql)
            self.assertEqual((st, r["error"]["errors"][0]["reason"]), (400, "invalidQuery"), sql)
            self.assertIn(words, r["error"]["message"])
        st, r = self.query("SELECT * FROM ds.missing")
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (404, "notFound"))

    def test_streaming_buffer(self):
        self.fill()
        st, r = self.query("TRUNCATE TABLE ds.driver_laps")
        self.assertEqual(st, 400)
        self.assertEqual(r["error"]["message"], "TRUNCATE TABLE statement over table p.ds.driver_laps "
                         "would affect rows in the streaming buffer, which is not supported")
        st, r = self.query("DELETE FROM ds.driver_laps WHERE session_key = 9158")
        self.assertEqual(st, 400)
        self.assertEqual(r["error"]["message"], "UPDATE or DELETE statement over table p.ds.driver_laps "
                         "would affect rows in the streaming buffer, which is not supported")
        st, r = self.query("DELETE ds.driver_laps WHERE session_key = 1")  # matches no row: allowed
        self.assertEqual((st, r["numDmlAffectedRows"]), (200, "0"))
        self.c.req("POST", "/_clock", {"advance_s": 1801})
        st, r = self.c.api("GET", "datasets/ds/tables/driver_laps")
        self.assertEqual((r["numRows"], "streamingBuffer" in r), ("16", False))
        st, r = self.query("DELETE FROM `p.ds.driver_laps` WHERE session_key = 9158 AND version = 1")
        self.assertEqual((st, r["numDmlAffectedRows"]), (200, "4"))
        st, r = self.query("SELECT COUNT(*) FROM ds.driver_laps WHERE session_key = 9158")
        self.assertEqual(self.values(r), [["4"]])
        st, r = self.query("TRUNCATE TABLE `p.ds.driver_laps`;")
        self.assertEqual((st, r["numDmlAffectedRows"]), (200, "12"))
        st, r = self.query("SELECT COUNT(*) FROM ds.driver_laps")
        self.assertEqual(self.values(r), [["0"]])

    def test_jobs_insert(self):
        self.fill()
        st, job = self.c.api("POST", "jobs", {"configuration": {"query": {
            "query": "SELECT COUNT(*) AS n FROM ds.driver_laps", "useLegacySql": False}},
            "jobReference": {"jobId": "myjob", "projectId": "p"}})
        self.assertEqual((st, job["status"], job["statistics"]["query"]["statementType"]),
                         (200, {"state": "DONE"}, "SELECT"))
        st, r = self.c.api("GET", "queries/myjob?maxResults=0")
        self.assertEqual((r["totalRows"], "rows" in r, r["schema"]["fields"][0]["name"]), ("1", False, "n"))
        st, r = self.c.api("GET", "queries/myjob")
        self.assertEqual(self.values(r), [["16"]])
        st, r = self.c.api("POST", "jobs", {"configuration": {"query": {"query": "SELECT 1"}},
                                            "jobReference": {"jobId": "myjob"}})
        self.assertEqual(st, 409)
        st, job = self.c.api("POST", "jobs", {"configuration": {"query": {
            "query": "SELECT x FROM ds.driver_laps", "useLegacySql": False}}})
        self.assertEqual((st, job["status"]["errorResult"]["reason"]), (200, "invalidQuery"))
        st, r = self.c.api("GET", "queries/" + job["jobReference"]["jobId"])
        self.assertEqual(st, 400)
        st, r = self.c.api("GET", "queries/nojob")
        self.assertEqual(st, 404)


class TablesTest(ServerTest):
    def test_sink_table_and_patch(self):
        # as f1_bq_table_body() in the sink: partitioned by day, clustered
        r = self.make_table(timePartitioning={"type": "DAY", "field": "date_start"},
                            clustering={"fields": ["session_key", "driver_number"]})
        self.assertEqual((r["timePartitioning"], r["clustering"]),
                         ({"type": "DAY", "field": "date_start"}, {"fields": ["session_key", "driver_number"]}))
        for extra, words in (({"timePartitioning": {"type": "DAY", "field": "lap_number"}}, "INTEGER"),
                             ({"timePartitioning": {"field": "nope"}}, "cannot be found"),
                             ({"clustering": {"fields": ["nope"]}}, "Invalid field: nope")):
            body = {"tableReference": {"tableId": "t2"}, "schema": {"fields": SCHEMA}}
            body.update(extra)
            st, r = self.c.api("POST", "datasets/ds/tables", body)
            self.assertEqual(st, 400, extra)
            self.assertIn(words, r["error"]["message"])
        self.insert([{"json": {"session_key": 1}}])
        # tables.patch: a NULLABLE column may be added, a REQUIRED one relaxed
        new = [dict(f, mode="NULLABLE") if f["name"] == "session_key" else f for f in SCHEMA]
        st, r = self.c.api("PATCH", "datasets/ds/tables/laps", {"schema": {"fields": new + [
            {"name": "deleted", "type": "BOOL", "mode": "NULLABLE"}]}})
        self.assertEqual(st, 200, r)
        self.assertEqual((r["schema"]["fields"][0]["mode"], r["schema"]["fields"][-1]["name"]),
                         ("NULLABLE", "deleted"))
        self.assertEqual(r["timePartitioning"]["field"], "date_start")
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data")
        self.assertEqual(self.values(r), [["1"] + [None] * 8])
        self.insert([{"json": {"deleted": True}}])
        self.assertEqual(self.stored(), 2)
        for fields, words in ((new, "deleted is missing"),
                              (new + [{"name": "deleted", "type": "STRING"}], "changed type"),
                              (SCHEMA + [{"name": "deleted", "type": "BOOL"}], "changed mode"),
                              (new + [{"name": "deleted", "type": "BOOL"},
                                      {"name": "x", "type": "INTEGER", "mode": "REQUIRED"}],
                               "Cannot add required fields")):
            st, r = self.c.api("PATCH", "datasets/ds/tables/laps", {"schema": {"fields": fields}})
            self.assertEqual(st, 400)
            self.assertIn(words, r["error"]["message"])


    def test_update_and_etag(self):
        self.make_table(description="laps")
        st, t = self.c.api("GET", "datasets/ds/tables/laps")
        etag = t["etag"]
        # tables.update (PUT) replaces the resource: the description left out is gone,
        # the schema may grow as with patch, and may not lose a field
        st, r = self.c.api("PUT", "datasets/ds/tables/laps", {
            "tableReference": t["tableReference"],
            "schema": {"fields": SCHEMA + [{"name": "compound", "type": "STRING"}]}},
            headers={"If-Match": etag})
        self.assertEqual(st, 200, r)
        self.assertNotIn("description", r)
        self.assertEqual(r["schema"]["fields"][-1], {"name": "compound", "type": "STRING", "mode": "NULLABLE"})
        self.assertNotEqual(r["etag"], etag)
        st, r = self.c.api("PUT", "datasets/ds/tables/laps", {"schema": {"fields": SCHEMA}})
        self.assertEqual(st, 400)
        self.assertIn("Field compound is missing in new schema", r["error"]["message"])
        # a stale etag: 412, nothing changed
        st, r = self.c.api("PATCH", "datasets/ds/tables/laps", {"description": "x"}, headers={"If-Match": etag})
        self.assertEqual((st, r["error"]["errors"][0]["reason"], r["error"]["status"]),
                         (412, "conditionNotMet", "FAILED_PRECONDITION"))
        st, r = self.c.api("GET", "datasets/ds/tables/laps")
        self.assertNotIn("description", r)
        st, r = self.c.api("PATCH", "datasets/ds/tables/laps", {"description": "x"},
                           headers={"If-Match": r["etag"]})
        self.assertEqual((st, r.get("description")), (200, "x"))


def bq_python():
    """A python with google-cloud-bigquery: $F1TEL_BQ_PYTHON (test/install-deps.sh
    makes its venv), else this one if it has it; None if neither."""
    for cand in (os.environ.get("F1TEL_BQ_PYTHON"), sys.executable):
        if cand and subprocess.run([cand, "-c", "import google.cloud.bigquery"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return cand
    return None


# google-cloud-bigquery's update_table(table, ["schema"]) (PATCH with If-Match: the
# etag it read) against the server: appending NULLABLE columns, as f1tel's sink
# does on an upgrade, and the changes BigQuery refuses
GOOGLE_CLIENT_SCRIPT = r"""
import json, sys
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.cloud import bigquery
from google.cloud.bigquery import SchemaField
from google.oauth2.credentials import Credentials

c = bigquery.Client(project="p", credentials=Credentials(token="t"),
                    client_options=ClientOptions(api_endpoint=sys.argv[1]))
out = {}


def refused(t, fields):
    t.schema = fields
    try:
        c.update_table(t, ["schema"])
        return "accepted"
    except exceptions.GoogleAPICallError as e:
        return [e.code, e.errors[0]["reason"], e.errors[0]["message"]]


c.create_dataset("p.up")
c.create_table(bigquery.Table("p.up.laps", schema=[
    SchemaField("session_key", "INT64", mode="REQUIRED"), SchemaField("compound", "STRING"),
    SchemaField("lap_duration", "FLOAT64")]))
out["insert"] = c.insert_rows_json("p.up.laps", [{"session_key": 1, "compound": "SOFT"}])
t = c.get_table("p.up.laps")
t.schema = list(t.schema) + [SchemaField("tyre_age", "INT64"), SchemaField("pit_in", "BOOL")]
out["appended"] = [[f.name, f.field_type, f.mode] for f in c.update_table(t, ["schema"]).schema]
out["rows"] = [dict(r) for r in c.list_rows("p.up.laps")]
t = c.get_table("p.up.laps")
fields = list(t.schema)
out["retype"] = refused(t, [SchemaField(f.name, "INT64" if f.name == "compound" else f.field_type,
                                        mode=f.mode) for f in fields])
out["drop"] = refused(c.get_table("p.up.laps"), fields[:-1])
out["required"] = refused(c.get_table("p.up.laps"), fields + [SchemaField("samples", "INT64", mode="REQUIRED")])
stale = c.get_table("p.up.laps")
t = c.get_table("p.up.laps")
t.description = "laps"
c.update_table(t, ["description"])
out["stale"] = refused(stale, fields + [SchemaField("samples", "INT64")])
out["final"] = [f.name for f in c.get_table("p.up.laps").schema]
print(json.dumps(out))
"""


class GoogleClientTest(ServerTest):
    def test_update_table_schema(self):
        py = bq_python()
        if py is None:
            if os.environ.get("F1TEL_REQUIRE_BQ_CLIENTS"):
                self.fail("google-cloud-bigquery is required (F1TEL_REQUIRE_BQ_CLIENTS=1) but no python "
                          "has it (F1TEL_BQ_PYTHON=%s)" % os.environ.get("F1TEL_BQ_PYTHON", ""))
            self.skipTest("google-cloud-bigquery is not installed (F1TEL_BQ_PYTHON)")
        p = subprocess.run([py, "-c", GOOGLE_CLIENT_SCRIPT, "http://127.0.0.1:%d" % self.port],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(out["insert"], [])
        self.assertEqual(out["appended"], [["session_key", "INTEGER", "REQUIRED"], ["compound", "STRING", "NULLABLE"],
                                           ["lap_duration", "FLOAT", "NULLABLE"], ["tyre_age", "INTEGER", "NULLABLE"],
                                           ["pit_in", "BOOLEAN", "NULLABLE"]])
        self.assertEqual(out["rows"], [{"session_key": 1, "compound": "SOFT", "lap_duration": None,
                                        "tyre_age": None, "pit_in": None}])
        self.assertEqual(out["retype"], [400, "invalid", "Provided Schema does not match Table p:up.laps. "
                                         "Field compound has changed type from STRING to INTEGER"])
        self.assertEqual(out["drop"][:2], [400, "invalid"])
        self.assertIn("Field pit_in is missing in new schema", out["drop"][2])
        self.assertEqual(out["required"][:2], [400, "invalid"])
        self.assertIn("Cannot add required fields to an existing schema. (field: samples)", out["required"][2])
        self.assertEqual(out["stale"], [412, "conditionNotMet", "Precondition check failed."])
        self.assertEqual(out["final"], ["session_key", "compound", "lap_duration", "tyre_age", "pit_in"])


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key = os.path.join(cls.dir, "key.pem")
        cls.other = os.path.join(cls.dir, "other.pem")
        for k in (cls.key, cls.other):
            subprocess.run(["openssl", "genrsa", "-out", k, "2048"], check=True, stderr=subprocess.DEVNULL)
        cls.pub = os.path.join(cls.dir, "key.pub")
        subprocess.run(["openssl", "rsa", "-in", cls.key, "-pubout", "-out", cls.pub], check=True,
                       stderr=subprocess.DEVNULL)
        cls.proc, cls.port = start_server("--require-auth", "jwt", "--public-key", cls.pub,
                                          "--token-lifetime", "2", "--static-token", "st")

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.proc)
        shutil.rmtree(cls.dir)

    def jwt(self, key, alg="RS256", **over):
        now = int(time.time())
        claims = {"iss": "sink@p.iam.gserviceaccount.com",
                  "scope": "https://www.googleapis.com/auth/bigquery",
                  "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}
        claims.update(over)
        head = b64u(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
        body = b64u(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                             input=("%s.%s" % (head, body)).encode(), capture_output=True,
                             check=True).stdout
        return "%s.%s.%s" % (head, body, b64u(sig))

    def grant(self, assertion, ctype="application/x-www-form-urlencoded"):
        form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion
        return Client(self.port).req("POST", "/token", form.encode(), headers={"Content-Type": ctype})

    def test_flow(self):
        c = Client(self.port)
        st, r = c.api("GET", "datasets")
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (401, "required"))
        st, tok = self.grant(self.jwt(self.key))
        self.assertEqual(st, 200, tok)
        self.assertEqual((tok["token_type"], tok["expires_in"]), ("Bearer", 2))
        c.token = tok["access_token"]
        self.assertEqual(c.api("GET", "datasets")[0], 200)
        time.sleep(2.1)
        st, r, resp = c.api("GET", "datasets", raw=True)
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(r)["error"]["status"], "UNAUTHENTICATED")
        self.assertIn("invalid_token", resp.getheader("WWW-Authenticate"))
        self.assertEqual(resp.getheader("X-Local-Auth-Detail"), "token expired")
        for token in ("st", "nonsense"):
            self.assertEqual(Client(self.port, token).api("GET", "datasets")[0],
                             200 if token == "st" else 401)

    def test_refusals(self):
        now = int(time.time())
        for assertion, error in ((self.jwt(self.other), "invalid_grant"),
                                 (self.jwt(self.key, alg="RS384"), "invalid_grant"),
                                 (self.jwt(self.key, iat=now, exp=now + 7200), "invalid_grant"),
                                 (self.jwt(self.key, iat=now - 7200, exp=now - 3600), "invalid_grant"),
                                 (self.jwt(self.key, aud="https://example.com/token"), "invalid_grant"),
                                 (self.jwt(self.key, iss=""), "invalid_grant"),
                                 (self.jwt(self.key, scope=""), "invalid_scope"),
                                 ("not.a.jwt", "invalid_grant"), ("", "invalid_request")):
            st, r = self.grant(assertion)
            self.assertEqual((st, r["error"]), (400, error), assertion[:60])
        st, r = self.grant(self.jwt(self.other))
        self.assertEqual(r["error_description"], "Invalid JWT Signature.")
        st, r = self.grant(self.jwt(self.key), ctype="application/json")
        self.assertEqual((st, r["error"]), (400, "invalid_request"))
        # the sink's token_uri: this server's own /token URL, as the aud
        issued = Client(self.port).req("GET", "/_stats")[1]["tokens_issued"]
        st, r = self.grant(self.jwt(self.key, aud="http://127.0.0.1:%d/token" % self.port))
        self.assertEqual(st, 200, r)
        self.assertEqual(Client(self.port).req("GET", "/_stats")[1]["tokens_issued"], issued + 1)

    def test_metadata(self):
        c = Client(self.port)
        path = "/computeMetadata/v1/instance/service-accounts/default/token"
        self.assertEqual(c.req("GET", path)[0], 403)
        st, r = c.req("GET", path, headers={"Metadata-Flavor": "Google"})
        self.assertEqual((st, r["token_type"]), (200, "Bearer"))
        c.token = r["access_token"]
        self.assertEqual(c.api("GET", "datasets")[0], 200)


class TypesTest(unittest.TestCase):
    def test_java_double(self):
        cases = {1.0: "1.0", 91.25: "91.25", 1e7: "1.0E7", 1694952000.5: "1.6949520005E9",
                 0.001: "0.001", 0.0001: "1.0E-4", -2.5: "-2.5", 123456.0: "123456.0", 100.0: "100.0"}
        for x, s in cases.items():
            self.assertEqual(bqtypes.java_double(x), s)

    def test_timestamps(self):
        p = bqtypes.parse_timestamp
        self.assertEqual(p("2023-09-17 12:00:00"), 1694952000000000)
        self.assertEqual(p("2023-09-17T14:00:00+02:00"), 1694952000000000)
        self.assertEqual(p("2023-09-17T10:30:00-01:30"), 1694952000000000)
        self.assertEqual(p("2023-09-17 12:00:00.123456 UTC"), 1694952000123456)
        self.assertEqual(p("2023-09-17T12:00:00.5Z"), 1694952000500000)
        self.assertEqual(p("2023-09-17"), 1694908800000000)
        self.assertEqual(p(1694952000.25), 1694952000250000)
        self.assertEqual(p("1.6949520005E9"), 1694952000500000)
        for bad in ("2023-13-01 00:00:00", "2023-09-17 25:00:00", "yesterday", True, None, "1e20"):
            with self.assertRaises(bqtypes.BadValue, msg=bad):
                p(bad)


if __name__ == "__main__":
    unittest.main()
