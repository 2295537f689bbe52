"""Unit tests of the local BigQuery server (test/bigquery/server.py).

Run:  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest discover -s test/bigquery -v
(the variable keeps unittest from leaving __pycache__/ in the source tree).
Each test class starts its own server process on a free port (--port 0) and
talks to it over HTTP with http.client; JWTs are signed with `openssl`.
"""

import base64
import gzip
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import bqtypes  # noqa: E402


def start_server(*args):
    p = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--quiet"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "ready on" not in line:
        p.kill()
        raise RuntimeError("server did not start: %s %s" % (line, p.stderr.read()))
    port = int(line.rsplit(":", 1)[1])
    return p, port


def stop_server(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
    p.stdout.close()
    p.stderr.close()


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
          {"name": "tags", "type": "STRING", "mode": "REPEATED"},
          {"name": "meta", "type": "RECORD", "fields": [{"name": "src", "type": "STRING"},
                                                        {"name": "ok", "type": "BOOL"}]}]


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
        self.c.req("POST", "/_reset", {"all": True})

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


class InsertAllTest(ServerTest):
    def test_valid_rows_and_list(self):
        self.make_table()
        st, r = self.insert([{"insertId": "1", "json": {
            "session_key": 9158, "driver_number": 1, "lap_number": 1, "version": 1,
            "lap_duration": 91.25, "date_start": "2023-09-17T12:00:00.5+00:00",
            "tags": ["a", "b"], "meta": {"src": "x", "ok": True}}}])
        self.assertEqual((st, r), (200, {"kind": "bigquery#tableDataInsertAllResponse"}))
        st, r = self.c.api("GET", "datasets/ds/tables/laps/data")
        self.assertEqual(st, 200)
        self.assertEqual(r["totalRows"], "1")
        self.assertEqual(r["rows"][0]["f"], [
            {"v": "9158"}, {"v": "1"}, {"v": "1"}, {"v": "1"}, {"v": "91.25"},
            {"v": "1.6949520005E9"}, {"v": [{"v": "a"}, {"v": "b"}]},
            {"v": {"f": [{"v": "x"}, {"v": "true"}]}}])

    def test_unknown_field_invalid_and_stopped(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}},
                             {"json": {"session_key": 2, "bogus": 1}},
                             {"json": {"session_key": 3}}])
        self.assertEqual(st, 200)
        errs = {e["index"]: e["errors"] for e in r["insertErrors"]}
        self.assertEqual(errs[1], [{"reason": "invalid", "location": "bogus", "debugInfo": "",
                                    "message": "no such field."}])
        self.assertEqual(errs[0][0]["reason"], "stopped")
        self.assertEqual(errs[2][0]["reason"], "stopped")
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"].get("p:ds.laps"), 0)

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
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"]["p:ds.laps"], 2)

    def test_unknown_top_level_field_is_400(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}}], skipInvalidRow=True)
        self.assertEqual(st, 400)
        self.assertEqual(r["error"]["errors"][0]["reason"], "invalid")
        self.assertIn('Unknown name "skipInvalidRow"', r["error"]["message"])
        st, r = self.c.api("POST", "datasets/ds/tables/laps/insertAll",
                           {"rows": [{"insertID": "x", "json": {"session_key": 1}}]})
        self.assertEqual(st, 400)
        self.assertIn("at 'rows[0]'", r["error"]["message"])
        st, r = self.insert([{"json": {"session_key": 1}}], skipInvalidRows="yes")
        self.assertEqual(st, 400)
        self.assertIn("TYPE_BOOL", r["error"]["message"])

    def test_dedup(self):
        self.make_table()
        rows = [{"insertId": "k1", "json": {"session_key": 1}},
                {"insertId": "k2", "json": {"session_key": 2}}]
        self.insert(rows)
        st, r = self.insert(rows + [{"insertId": "k3", "json": {"session_key": 3}}])
        self.assertEqual(st, 200)
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual(s["rows"]["p:ds.laps"], 3)
        self.assertEqual(s["insert_all"]["rows_deduplicated"], 2)
        self.c.req("POST", "/_clock", {"advance_s": 601})
        self.insert(rows)
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"]["p:ds.laps"], 5)

    def test_limits(self):
        self.make_table()
        st, r = self.insert([])
        self.assertEqual((st, r["error"]["message"]), (400, "No rows present in the request."))
        st, r = self.insert([{"insertId": "x" * 129, "json": {"session_key": 1}}])
        self.assertEqual(st, 400)
        st, r = self.insert([{"json": {"session_key": 1}}] * 50001)
        self.assertEqual(st, 400)
        self.assertIn("too many rows", r["error"]["message"])
        big = [{"json": {"session_key": 1, "tags": ["x" * 1000] * 100}}] * 110   # ~11 MB
        st, r = self.insert(big)
        self.assertEqual(st, 400)
        self.assertEqual(r["error"]["message"], "Request payload size exceeds the limit: 10485760 bytes.")
        huge = json.dumps({"rows": [{"json": {"session_key": 1, "tags": ["x" * 1000] * 1000}}] * 13})
        st, body, resp = self.c.api("POST", "datasets/ds/tables/laps/insertAll", huge.encode(), raw=True)
        self.assertEqual(st, 413)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"413.", body)

    def test_expect_100_continue_refused_early(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"POST /bigquery/v2/projects/p/datasets/ds/tables/laps/insertAll HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        data = s.recv(65536)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])

    def test_gzip_and_chunked_bodies(self):
        self.make_table()
        body = gzip.compress(json.dumps({"rows": [{"json": {"session_key": 1}}]}).encode())
        st, r = self.c.api("POST", "datasets/ds/tables/laps/insertAll", body,
                           headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 200, r)
        s = socket.create_connection(("127.0.0.1", self.port))
        payload = json.dumps({"rows": [{"json": {"session_key": 2}}]}).encode()
        s.sendall(b"POST /bigquery/v2/projects/p/datasets/ds/tables/laps/insertAll HTTP/1.1\r\n"
                  b"Host: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                  b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"]["p:ds.laps"], 2)

    def test_types(self):
        schema = [{"name": n, "type": t} for n, t in
                  [("i", "INTEGER"), ("f", "FLOAT"), ("b", "BOOLEAN"), ("ts", "TIMESTAMP"),
                   ("d", "DATE"), ("n", "NUMERIC"), ("s", "STRING")]]
        self.make_table("ty", schema)
        good = {"i": "9007199254740993", "f": "1e3", "b": "true", "ts": 1694952000,
                "d": "2023-09-17", "n": "1.123456789", "s": 5}
        st, r = self.insert([{"json": good}], t="ty")
        self.assertNotIn("insertErrors", r)
        st, r = self.c.api("GET", "datasets/ds/tables/ty/data")
        self.assertEqual([x["v"] for x in r["rows"][0]["f"]],
                         ["9007199254740993", "1000.0", "true", "1.694952E9", "2023-09-17",
                          "1.123456789", "5"])
        for bad in ({"i": 1.5}, {"i": "x"}, {"b": "maybe"}, {"ts": "yesterday"}, {"d": "2023-02-30"},
                    {"n": "1.0123456789"}, {"s": {"a": 1}}, {"i": [1]}):
            st, r = self.insert([{"json": bad}], t="ty")
            self.assertEqual(r["insertErrors"][0]["errors"][0]["reason"], "invalid", bad)
            self.assertEqual(r["insertErrors"][0]["errors"][0]["location"], list(bad)[0])

    def test_new_table_404_and_template_suffix(self):
        self.make_table()
        st, r = self.insert([{"json": {"session_key": 1}}], templateSuffix="_2023")
        self.assertEqual(st, 200)
        st, r = self.c.api("GET", "datasets/ds/tables/laps_2023")
        self.assertEqual((st, r["numRows"], r["streamingBuffer"]["estimatedRows"]), (200, "0", "1"))
        st, r = self.insert([{"json": {"session_key": 1}}], t="nope")
        self.assertEqual((st, r["error"]["message"]), (404, "Not found: Table p:ds.nope"))


class FaultTest(ServerTest):
    def test_503_then_success(self):
        self.make_table()
        st, r = self.c.req("POST", "/_fault", {"status": 503, "count": 2, "path_contains": "insertAll"})
        self.assertEqual(st, 200)
        for _ in range(2):
            st, r = self.insert([{"json": {"session_key": 1}}])
            self.assertEqual(st, 503)
            self.assertEqual(r["error"]["errors"][0]["reason"], "backendError")
        st, r = self.insert([{"json": {"session_key": 1}}])
        self.assertEqual(st, 200)
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual(s["requests"]["bigquery.tabledata.insertAll"], {"503": 2, "200": 1})
        self.assertEqual(s["rows"]["p:ds.laps"], 1)

    def test_html_reason_retry_after(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"faults": [
            {"status": 502, "body": "html"},
            {"status": 403, "reason": "quotaExceeded", "retry_after": 7}]})
        st, body, resp = self.c.api("GET", "datasets/ds", raw=True)
        self.assertEqual(st, 502)
        self.assertIn(b"502.", body)
        st, body, resp = self.c.api("GET", "datasets/ds", raw=True)
        self.assertEqual((st, resp.getheader("Retry-After")), (403, "7"))
        self.assertEqual(json.loads(body)["error"]["errors"][0]["reason"], "quotaExceeded")

    def test_reset_close_delay_apply(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"reset": True, "apply": True, "path_contains": "insertAll"})
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.insert([{"insertId": "a", "json": {"session_key": 1}}])
        self.c.req("POST", "/_fault", {"close": True})
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.insert([{"insertId": "a", "json": {"session_key": 1}}])
        self.c.req("POST", "/_fault", {"delay_ms": 300})
        t0 = time.time()
        st, r = self.insert([{"insertId": "a", "json": {"session_key": 1}}])
        self.assertGreaterEqual(time.time() - t0, 0.3)
        # applied once (the reset request), then de-duplicated
        s = self.c.req("GET", "/_stats")[1]
        self.assertEqual(s["rows"]["p:ds.laps"], 1)
        self.assertEqual(s["insert_all"]["rows_deduplicated"], 1)

    def test_insert_errors_fault(self):
        self.make_table()
        self.c.req("POST", "/_fault", {"insert_errors": {"reason": "backendError", "indexes": [1]}})
        st, r = self.insert([{"json": {"session_key": 1}}, {"json": {"session_key": 2}}])
        self.assertEqual(st, 200)
        self.assertEqual(r["insertErrors"], [{"index": 1, "errors": [
            {"reason": "backendError", "location": "", "debugInfo": "", "message": ""}]}])
        self.assertEqual(self.c.req("GET", "/_stats")[1]["rows"]["p:ds.laps"], 1)

    def test_bad_fault(self):
        st, r = self.c.req("POST", "/_fault", {"statsu": 500})
        self.assertEqual(st, 400)


class QueryTest(ServerTest):
    def fill(self):
        self.make_table()
        rows = []
        for s in (9158, 9165):
            for d in (1, 44):
                for lap in (1, 2):
                    for v in (1, 2):
                        rows.append({"json": {"session_key": s, "driver_number": d, "lap_number": lap,
                                              "version": v, "lap_duration": 90 + v,
                                              "date_start": "2023-09-%02d 12:00:00" % (s - 9150)}})
        self.insert(rows)

    def values(self, r):
        return [[c["v"] for c in row["f"]] for row in r.get("rows", [])]

    def test_count_and_legacy(self):
        self.fill()
        st, r = self.query("SELECT COUNT(*) FROM `p.ds.laps`")
        self.assertEqual(st, 200, r)
        self.assertEqual(r["schema"]["fields"], [{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}])
        self.assertEqual(self.values(r), [["16"]])
        st, r = self.c.api("POST", "queries", {"query": "SELECT COUNT(*) FROM ds.laps"})
        self.assertEqual(st, 400)
        self.assertIn("Legacy SQL", r["error"]["message"])

    def test_select_where_order_limit_paging(self):
        self.fill()
        st, r = self.query("SELECT driver_number, lap_number, version FROM ds.laps "
                           "WHERE session_key = 9165 AND driver_number = 44 "
                           "ORDER BY lap_number DESC, version LIMIT 3", maxResults=2)
        self.assertEqual(self.values(r), [["44", "2", "1"], ["44", "2", "2"]])
        self.assertEqual(r["totalRows"], "3")
        job = r["jobReference"]["jobId"]
        st, r2 = self.c.api("GET", "queries/%s?pageToken=%s" % (job, r["pageToken"]))
        self.assertEqual(self.values(r2), [["44", "1", "1"]])
        st, r = self.query("SELECT * FROM ds.laps WHERE session_key = 1")
        self.assertEqual((r["totalRows"], "rows" in r), ("0", False))

    def test_views(self):
        self.fill()
        st, r = self.query(
            "CREATE OR REPLACE VIEW `p.ds.driver_laps_latest` AS SELECT * FROM `p.ds.laps` "
            "WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY session_key, driver_number, "
            "lap_number ORDER BY version DESC) = 1")
        self.assertEqual(st, 200, r)
        st, r = self.query("SELECT COUNT(*) FROM ds.driver_laps_latest")
        self.assertEqual(self.values(r), [["8"]])
        st, r = self.c.api("POST", "datasets/ds/tables", {
            "tableReference": {"tableId": "laps_latest_session"},
            "view": {"query": "SELECT * FROM ds.driver_laps_latest WHERE session_key = "
                              "(SELECT MAX(session_key) FROM ds.laps)", "useLegacySql": False}})
        self.assertEqual(st, 200, r)
        self.assertEqual(r["type"], "VIEW")
        st, r = self.query("SELECT session_key, MIN(version) v, COUNT(*) n FROM ds.laps_latest_session "
                           "GROUP BY session_key")
        self.assertEqual(self.values(r), [["9165", "2", "4"]])
        st, r = self.c.api("POST", "datasets/ds/tables", {
            "tableReference": {"tableId": "legacy"}, "view": {"query": "SELECT 1"}})
        self.assertEqual(st, 400)
        st, r = self.query("CREATE VIEW IF NOT EXISTS ds.driver_laps_latest AS SELECT 1 AS x")
        self.assertEqual(st, 200)
        st, r = self.query("SELECT * FROM ds.driver_laps_latest LIMIT 1")
        self.assertEqual(len(r["schema"]["fields"]), len(SCHEMA))

    def test_unsupported_and_errors(self):
        self.fill()
        st, r = self.query("SELECT * FROM ds.laps a JOIN ds.laps b USING (session_key)")
        self.assertEqual(st, 400)
        self.assertIn("query shape not supported by the local server", r["error"]["message"])
        st, r = self.query("SELECT nope FROM ds.laps")
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (400, "invalidQuery"))
        st, r = self.query("SELECT * FROM ds.missing")
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (404, "notFound"))

    def test_streaming_buffer(self):
        self.fill()
        st, r = self.query("TRUNCATE TABLE ds.laps")
        self.assertEqual(st, 400)
        self.assertIn("would affect rows in the streaming buffer, which is not supported",
                      r["error"]["message"])
        st, r = self.query("DELETE FROM ds.laps WHERE session_key = 9158")
        self.assertEqual(st, 400)
        self.assertTrue(r["error"]["message"].startswith("UPDATE or DELETE statement over table p.ds.laps"))
        self.c.req("POST", "/_clock", {"advance_s": 1801})
        st, r = self.c.api("GET", "datasets/ds/tables/laps")
        self.assertEqual((r["numRows"], "streamingBuffer" in r), ("16", False))
        st, r = self.query("DELETE FROM ds.laps WHERE session_key = 9158")
        self.assertEqual((st, r["numDmlAffectedRows"]), (200, "8"))
        st, r = self.query("TRUNCATE TABLE ds.laps")
        self.assertEqual(st, 200, r)
        st, r = self.query("SELECT COUNT(*) FROM ds.laps")
        self.assertEqual(self.values(r), [["0"]])

    def test_params_and_jobs_insert(self):
        self.fill()
        st, r = self.query("SELECT COUNT(*) AS n FROM ds.laps WHERE session_key = @s AND date_start > @t",
                           parameterMode="NAMED", queryParameters=[
                               {"name": "s", "parameterType": {"type": "INT64"},
                                "parameterValue": {"value": "9165"}},
                               {"name": "t", "parameterType": {"type": "TIMESTAMP"},
                                "parameterValue": {"value": "2023-01-01 00:00:00"}}])
        self.assertEqual(self.values(r), [["8"]])
        st, job = self.c.api("POST", "jobs", {"configuration": {"query": {
            "query": "SELECT MAX(date_start) FROM ds.laps", "useLegacySql": False}},
            "jobReference": {"jobId": "myjob"}})
        self.assertEqual((st, job["status"]["state"]), (200, "DONE"))
        st, r = self.c.api("GET", "queries/myjob")
        self.assertEqual(self.values(r), [["1.6947792E9"]])
        st, r = self.c.api("POST", "jobs", {"configuration": {"query": {"query": "SELECT 1"}},
                                            "jobReference": {"jobId": "myjob"}})
        self.assertEqual(st, 409)


class StateTest(unittest.TestCase):
    def test_restart_keeps_tables_rows_and_insert_ids(self):
        d = tempfile.mkdtemp()
        try:
            state = os.path.join(d, "state.jsonl")
            p, port = start_server("--state", state)
            c = Client(port)
            c.api("POST", "datasets", {"datasetReference": {"datasetId": "ds"}})
            c.api("POST", "datasets/ds/tables", {"tableReference": {"tableId": "t"},
                                                 "schema": {"fields": [{"name": "x", "type": "INTEGER"}]}})
            c.api("POST", "datasets/ds/tables/t/insertAll",
                  {"rows": [{"insertId": "a", "json": {"x": 1}}, {"json": {"x": 2}}]})
            stop_server(p)
            p, port = start_server("--state", state)
            c = Client(port)
            c.api("POST", "datasets/ds/tables/t/insertAll", {"rows": [{"insertId": "a", "json": {"x": 1}}]})
            st, r = c.api("GET", "datasets/ds/tables/t/data")
            self.assertEqual(r["totalRows"], "2")
            stop_server(p)
        finally:
            shutil.rmtree(d)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key = os.path.join(cls.dir, "key.pem")
        cls.other = os.path.join(cls.dir, "other.pem")
        for k in (cls.key, cls.other):
            subprocess.run(["openssl", "genrsa", "-out", k, "2048"], check=True,
                           stderr=subprocess.DEVNULL)
        cls.sa = os.path.join(cls.dir, "sa.json")
        with open(cls.key) as f:
            pem = f.read()
        with open(cls.sa, "w") as f:
            json.dump({"type": "service_account", "private_key": pem, "private_key_id": "kid1",
                       "client_email": "sink@p.iam.gserviceaccount.com"}, f)
        cls.proc, cls.port = start_server("--require-auth", "jwt", "--public-key", cls.sa,
                                          "--token-lifetime", "2")

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.proc)
        shutil.rmtree(cls.dir)

    def jwt(self, key, **over):
        now = int(time.time())
        claims = {"iss": "sink@p.iam.gserviceaccount.com",
                  "scope": "https://www.googleapis.com/auth/bigquery",
                  "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}
        claims.update(over)
        head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "kid1"}).encode())
        body = b64u(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                             input=("%s.%s" % (head, body)).encode(), capture_output=True,
                             check=True).stdout
        return "%s.%s.%s" % (head, body, b64u(sig))

    def grant(self, assertion):
        c = Client(self.port)
        form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion
        return c.req("POST", "/token", form.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})

    def test_flow(self):
        c = Client(self.port)
        st, r = c.api("GET", "datasets")
        self.assertEqual((st, r["error"]["errors"][0]["reason"]), (401, "required"))
        st, tok = self.grant(self.jwt(self.key))
        self.assertEqual(st, 200, tok)
        self.assertEqual((tok["token_type"], tok["expires_in"]), ("Bearer", 2))
        c.token = tok["access_token"]
        st, r = c.api("GET", "datasets")
        self.assertEqual(st, 200, r)
        time.sleep(2.1)
        st, r, resp = c.api("GET", "datasets", raw=True)
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(r)["error"]["status"], "UNAUTHENTICATED")
        self.assertIn("invalid_token", resp.getheader("WWW-Authenticate"))

    def test_refusals(self):
        st, r = self.grant(self.jwt(self.other))
        self.assertEqual((st, r["error"]), (400, "invalid_grant"))
        self.assertEqual(r["error_description"], "Invalid JWT Signature.")
        now = int(time.time())
        st, r = self.grant(self.jwt(self.key, iat=now, exp=now + 7200))
        self.assertEqual((st, r["error"]), (400, "invalid_grant"))
        st, r = self.grant(self.jwt(self.key, iat=now - 7200, exp=now - 3600))
        self.assertEqual((st, r["error"]), (400, "invalid_grant"))
        st, r = self.grant(self.jwt(self.key, aud="https://example.com/token"))
        self.assertEqual((st, r["error"]), (400, "invalid_grant"))
        st, r = self.grant(self.jwt(self.key, iss="someone@else"))
        self.assertEqual((st, r["error"]), (400, "invalid_grant"))
        st, r = self.grant(self.jwt(self.key, scope=""))
        self.assertEqual((st, r["error"]), (400, "invalid_scope"))
        own = "http://127.0.0.1:%d/token" % self.port
        st, r = self.grant(self.jwt(self.key, aud=own))
        self.assertEqual(st, 200, r)

    def test_metadata(self):
        c = Client(self.port)
        st, r = c.req("GET", "/computeMetadata/v1/instance/service-accounts/default/token")
        self.assertEqual(st, 403)
        st, r = c.req("GET", "/computeMetadata/v1/instance/service-accounts/default/token",
                      headers={"Metadata-Flavor": "Google"})
        self.assertEqual(st, 200)
        c.token = r["access_token"]
        self.assertEqual(c.api("GET", "datasets")[0], 200)


class TypesTest(unittest.TestCase):
    def test_java_double(self):
        cases = {1.0: "1.0", 91.25: "91.25", 1e7: "1.0E7", 1694952000.5: "1.6949520005E9",
                 0.001: "0.001", 0.0001: "1.0E-4", -2.5: "-2.5", 123456.0: "123456.0"}
        for x, s in cases.items():
            self.assertEqual(bqtypes.java_double(x), s)

    def test_timestamps(self):
        p = bqtypes.parse_timestamp
        self.assertEqual(p("2023-09-17 12:00:00"), 1694952000000000)
        self.assertEqual(p("2023-09-17T14:00:00+02:00"), 1694952000000000)
        self.assertEqual(p("2023-09-17 12:00:00.123456 UTC"), 1694952000123456)
        self.assertEqual(p("2023-09-17T12:00:00Z"), 1694952000000000)
        self.assertEqual(p(1694952000.25), 1694952000250000)
        with self.assertRaises(bqtypes.BadValue):
            p("2023-13-01 00:00:00")


if __name__ == "__main__":
    unittest.main()
