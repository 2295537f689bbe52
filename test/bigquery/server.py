#!/usr/bin/python3
"""A local BigQuery REST v2 server for f1tel's tests and demo (Python 3 stdlib only).

BigQuery cannot be reached from the test machines, so this server follows
Google's published API description (the discovery document) closely enough
for f1tel's C client, for Google's `bq` CLI and for fault-injection tests:
tabledata.insertAll with BigQuery's row validation, skipInvalidRows /
"stopped" semantics, insertId de-duplication, payload limits (JSON 400 over
10 MB, HTML 413 for much larger bodies), a streaming buffer that refuses
TRUNCATE/DELETE on fresh rows, tabledata.list, a small GoogleSQL subset for
jobs.query (COUNT(*), SELECT ... WHERE/ORDER BY/LIMIT, views with QUALIFY
ROW_NUMBER() and latest-session subqueries), OAuth (JWT bearer grant, GCE
metadata), and Google's error envelope everywhere.

  server.py --port N [--host 127.0.0.1] [--project P]...
            [--require-auth none|token|jwt] [--public-key PEM_OR_JSON]...
            [--static-token T]... [--token-lifetime S] [--dedup-window S]
            [--streaming-buffer S] [--new-table-404 S] [--html-413-bytes B]
            [--state FILE] [--discovery FILE] [--quiet]

Prints "bigquery-server: ready on http://127.0.0.1:PORT" on stdout when it
listens (--port 0 picks a free port).  API paths are served under both
/bigquery/v2/projects/... and /projects/...; test hooks under /_ (see
README.md next to this file): POST /_fault, GET /_stats, POST /_reset,
POST /_clock.  Threads: one per connection (HTTP/1.1 keep-alive); all state
changes happen under Store.lock.
"""

import argparse
import gzip
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import auth as authmod  # noqa: E402
from api import Api  # noqa: E402
from store import ApiError, Store  # noqa: E402

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 409: "ALREADY_EXISTS",
                412: "FAILED_PRECONDITION", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}

FAULT_DEFAULTS = {
    400: ("invalid", "Invalid request (injected fault)."),
    403: ("rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method "
          "for this user_method. For more information, see "
          "https://cloud.google.com/bigquery/docs/troubleshoot-quotas"),
    404: ("notFound", "Not found: injected fault"),
    408: ("timeout", "Request timed out."),
    409: ("duplicate", "Already Exists: injected fault"),
    413: ("invalid", "Request payload size exceeds the limit: 10485760 bytes."),
    429: ("rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method "
          "for this user_method. For more information, see "
          "https://cloud.google.com/bigquery/docs/troubleshoot-quotas"),
    500: ("internalError", "An internal error occurred and the request could not be completed. "
          "This is usually caused by a transient issue. Retrying the job with back-off as "
          "described in the BigQuery SLA should solve the problem: "
          "https://cloud.google.com/bigquery/sla. If the error continues to occur please contact "
          "support at https://cloud.google.com/support."),
    502: ("badGateway", "Bad gateway."),
    503: ("backendError", "Error encountered during execution. Retrying may solve the problem."),
    504: ("timeout", "Deadline exceeded."),
}
REASON_MESSAGES = {
    "backendError": "Error encountered during execution. Retrying may solve the problem.",
    "internalError": FAULT_DEFAULTS[500][1],
    "rateLimitExceeded": FAULT_DEFAULTS[429][1],
    "quotaExceeded": "Quota exceeded: Your table exceeded quota for imports or query appends per "
                     "table. For more information, see "
                     "https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
    "badGateway": "Bad gateway.",
}
HTML_TEXT = {
    404: ("Not Found", "The requested URL <code>%(path)s</code> was not found on this server."),
    408: ("Request Timeout", "Your client has taken too long to issue its request."),
    413: ("Request Entity Too Large", "Your client issued a request that was too large."),
    429: ("Too Many Requests", "We're sorry, but you have sent too many requests to us recently. "
          "Please try again later."),
    500: ("Internal Server Error", "The server encountered an error and could not complete your "
          "request.<p>Please try again in 30 seconds."),
    502: ("Bad Gateway", "The server encountered a temporary error and could not complete your "
          "request.<p>Please try again in 30 seconds."),
    503: ("Service Unavailable", "The service you requested is not available at this time."
          "<p>Service error -27."),
    504: ("Gateway Timeout", "The server encountered a temporary error and could not complete "
          "your request.<p>Please try again in 30 seconds."),
}


def google_html(status, path=""):
    title, text = HTML_TEXT.get(status, ("Error", "The server cannot process the request."))
    text = text % {"path": path.replace("<", "&lt;")}
    return ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
            "  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n"
            "  <title>Error %d (%s)!!1</title>\n"
            "  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
            "  <p><b>%d.</b> <ins>That\u2019s an error.</ins>\n"
            "  <p>%s  <ins>That\u2019s all we know.</ins>\n" % (status, title, status, text)
            ).encode("utf-8")


def error_envelope(status, reason, message, location=None, location_type=None, extra=None):
    err = {"message": message, "domain": "global", "reason": reason}
    if location:
        err["location"] = location
    if location_type:
        err["locationType"] = location_type
    body = {"code": status, "message": message, "errors": [err],
            "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if extra:
        body.update(extra)
    return {"error": body}


class BodyTooLarge(Exception):
    pass


class BadRequestBody(Exception):
    pass


# ---- faults and statistics ------------------------------------------------------------

class Faults:
    """Queued faults: each applies to the next `count` matching requests."""

    KEYS = {"status", "count", "path_contains", "method", "delay_ms", "reset", "close", "body",
            "reason", "message", "retry_after", "apply", "insert_errors"}

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = []
        self.applied = 0

    def add(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(spec) - self.KEYS
        if unknown:
            raise ValueError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
        f = dict(spec)
        f.setdefault("count", 1)
        if not isinstance(f["count"], int) or f["count"] < 1:
            raise ValueError("count must be a positive integer")
        if "status" in f and not (isinstance(f["status"], int) and 100 <= f["status"] <= 599):
            raise ValueError("status must be an HTTP status code")
        if f.get("body", "json") not in ("json", "html", "empty", "text"):
            raise ValueError("body must be json, html, empty or text")
        if not any(k in f for k in ("status", "reset", "close", "delay_ms", "insert_errors")):
            raise ValueError("a fault needs status, reset, close, delay_ms or insert_errors")
        if "insert_errors" in f:
            ie = f["insert_errors"]
            if isinstance(ie, str):
                f["insert_errors"] = {"reason": ie}
            elif not isinstance(ie, dict):
                raise ValueError("insert_errors is a reason or {\"reason\", \"indexes\", \"message\"}")
            f.setdefault("path_contains", "insertAll")
        with self.lock:
            self.queue.append(f)

    def take(self, method, path):
        with self.lock:
            for f in self.queue:
                if f.get("method") and f["method"].upper() != method:
                    continue
                if f.get("path_contains") and f["path_contains"] not in path:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.queue.remove(f)
                self.applied += 1
                return dict(f)
        return None

    def clear(self):
        with self.lock:
            self.queue = []

    def pending(self):
        with self.lock:
            return [dict(f) for f in self.queue]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.by_method = {}
        self.by_status = {}
        self.total = 0

    def count(self, method_id, status):
        with self.lock:
            self.total += 1
            m = self.by_method.setdefault(method_id, {})
            m[str(status)] = m.get(str(status), 0) + 1
            self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1


# ---- HTTP -------------------------------------------------------------------------------

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, cfg, store, auth, api, discovery_text):
        ThreadingHTTPServer.__init__(self, addr, Handler)
        self.cfg = cfg
        self.store = store
        self.auth = auth
        self.api = api
        self.discovery_text = discovery_text
        self.discovery_cache = {}
        self.faults = Faults()
        self.stats = Stats()
        self.reset_sockets = set()
        self.reset_lock = threading.Lock()

    def shutdown_request(self, request):
        with self.reset_lock:
            reset = id(request) in self.reset_sockets
            self.reset_sockets.discard(id(request))
        if reset:
            # answer nothing: RST instead of FIN
            try:
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close_request(request)
            return
        ThreadingHTTPServer.shutdown_request(self, request)

    def discovery_for(self, host):
        with self.reset_lock:
            doc = self.discovery_cache.get(host)
            if doc is None:
                d = json.loads(self.discovery_text)
                root = "http://%s/" % host
                d["rootUrl"] = root
                d["mtlsRootUrl"] = root
                d["baseUrl"] = root + "bigquery/v2/"
                d["endpoints"] = []
                doc = json.dumps(d, indent=2).encode("utf-8")
                self.discovery_cache[host] = doc
            return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bigquery-local/1.0"
    sys_version = ""
    timeout = 120

    # logging
    def log_message(self, fmt, *args):
        if not self.server.cfg.quiet:
            sys.stderr.write("bigquery-server: %s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        if self.server.cfg.quiet:
            return
        took = (time.time() - getattr(self, "_t0", time.time())) * 1000
        sys.stderr.write("bigquery-server: %s \"%s\" %s %.0fms\n"
                         % (self.address_string(), self.requestline, code, took))

    # Expect: 100-continue -- refuse huge bodies before they are sent
    def handle_expect_100(self):
        cl = self.headers.get("Content-Length", "")
        if cl.isdigit() and int(cl) > self.server.cfg.html_413_bytes:
            self._t0 = time.time()
            self.server.stats.count("front-end", 413)
            self.close_connection = True
            self.send_raw(413, google_html(413), "text/html; charset=UTF-8", close=True)
            return False
        return BaseHTTPRequestHandler.handle_expect_100(self)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    # body
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        limit = self.server.cfg.html_413_bytes
        chunks = []
        total = 0
        too_large = False
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise BadRequestBody("truncated chunked body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequestBody("bad chunk size")
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 1 << 16))
                    if not data:
                        raise BadRequestBody("truncated chunk")
                    left -= len(data)
                    total += len(data)
                    if total > limit:
                        too_large = True
                    elif not too_large:
                        chunks.append(data)
                self.rfile.readline(3)
        else:
            cl = self.headers.get("Content-Length")
            if cl is None:
                return b""
            try:
                n = int(cl)
            except ValueError:
                raise BadRequestBody("bad Content-Length")
            if n < 0:
                raise BadRequestBody("bad Content-Length")
            too_large = n > limit
            left = n
            while left:
                data = self.rfile.read(min(left, 1 << 16))
                if not data:
                    raise BadRequestBody("truncated body")
                left -= len(data)
                if not too_large:
                    chunks.append(data)
        if too_large:
            raise BodyTooLarge()
        body = b"".join(chunks)
        enc = (self.headers.get("Content-Encoding") or "").lower().strip()
        if enc in ("gzip", "x-gzip"):
            try:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                body = d.decompress(body, 64 << 20)
                if d.unconsumed_tail:
                    raise BodyTooLarge()
            except zlib.error:
                raise BadRequestBody("bad gzip body")
        elif enc in ("deflate",):
            try:
                body = zlib.decompress(body)
            except zlib.error:
                raise BadRequestBody("bad deflate body")
        elif enc not in ("", "identity"):
            raise BadRequestBody("unsupported Content-Encoding %s" % enc)
        return body

    # responses
    def send_raw(self, status, body, ctype, headers=None, close=False):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 204 and status != 304:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None, pretty=True):
        if obj is None:
            self.send_raw(status, b"", None, headers)
            return
        if pretty:
            text = json.dumps(obj, indent=2, ensure_ascii=False, default=_default)
        else:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)
        self.send_raw(status, (text + "\n").encode("utf-8"), "application/json; charset=UTF-8",
                      headers)

    def host(self):
        h = self.headers.get("Host")
        if not h:
            h = "%s:%d" % self.server.server_address[:2]
        return h

    def dispatch(self):
        self._t0 = time.time()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        pretty = not (query.get("prettyPrint") and query["prettyPrint"][-1].lower() in ("false", "0"))
        method = self.command
        try:
            body = self.read_body()
        except BodyTooLarge:
            self.server.stats.count("front-end", 413)
            self.send_raw(413, google_html(413), "text/html; charset=UTF-8", close=True)
            return
        except BadRequestBody as e:
            self.server.stats.count("front-end", 400)
            self.send_raw(400, ("Bad Request: %s\n" % e).encode(), "text/plain", close=True)
            return

        if path.startswith("/_"):
            return self.internal(method, path, query, body)

        fault = self.server.faults.take(method, path)
        label, runner = self.route(method, path, query, body, fault)
        if fault is not None and not self.fault_is_passive(fault):
            return self.apply_fault(fault, label, runner, path)
        status, ctype, payload, headers = runner()
        if fault is not None and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        self.server.stats.count(label, status)
        if ctype == "json":
            self.send_json(status, payload, headers, pretty)
        else:
            self.send_raw(status, payload, ctype, headers)

    @staticmethod
    def fault_is_passive(f):
        """Delay-only and insert_errors faults let the request through."""
        return not any(k in f for k in ("status", "reset", "close"))

    def apply_fault(self, f, label, runner, path):
        if f.get("apply"):
            try:
                runner()
            except Exception:  # the answer is replaced by the fault anyway
                pass
        if f.get("delay_ms"):
            time.sleep(f["delay_ms"] / 1000.0)
        if f.get("reset") or f.get("close"):
            self.server.stats.count(label, "reset" if f.get("reset") else "close")
            self.close_connection = True
            if f.get("reset"):
                with self.server.reset_lock:
                    self.server.reset_sockets.add(id(self.connection))
            return
        status = f["status"]
        self.server.stats.count(label, status)
        headers = {}
        if f.get("retry_after") is not None:
            headers["Retry-After"] = str(f["retry_after"])
        kind = f.get("body", "html" if status == 413 else "json")
        if kind == "html":
            self.send_raw(status, google_html(status, path), "text/html; charset=UTF-8", headers)
        elif kind == "empty":
            self.send_raw(status, b"", None, headers)
        elif kind == "text":
            self.send_raw(status, (f.get("message") or "upstream connect error") .encode(),
                          "text/plain", headers)
        else:
            reason, msg = FAULT_DEFAULTS.get(status, ("backendError", "Injected fault."))
            if f.get("reason"):
                reason = f["reason"]
                msg = REASON_MESSAGES.get(reason, msg)
            if f.get("message"):
                msg = f["message"]
            self.send_json(status, error_envelope(status, reason, msg), headers)

    def route(self, method, path, query, body, fault):
        """(stats label, a function returning (status, ctype|'json', payload, headers))."""
        srv = self.server
        # discovery
        if method == "GET" and (path == "/$discovery/rest" or
                                path == "/discovery/v1/apis/bigquery/v2/rest"):
            def discovery():
                if path == "/$discovery/rest" and query.get("version", ["v2"])[-1] != "v2":
                    return 404, "json", error_envelope(404, "notFound", "Requested entity was not "
                                                       "found."), None
                return 200, "application/json; charset=UTF-8", srv.discovery_for(self.host()), None
            return "discovery", discovery
        # OAuth token endpoint
        if path in authmod.TOKEN_PATHS:
            def token():
                if method != "POST":
                    return 405, "json", {"error": "invalid_request",
                                         "error_description": "Use POST"}, None
                own = ["http://%s%s" % (self.host(), p) for p in authmod.TOKEN_PATHS]
                own += ["http://127.0.0.1:%d%s" % (srv.server_address[1], p) for p in authmod.TOKEN_PATHS]
                own += ["http://localhost:%d%s" % (srv.server_address[1], p) for p in authmod.TOKEN_PATHS]
                status, obj = srv.auth.token_endpoint(self.headers.get("Content-Type"), body, own)
                return status, "json", obj, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
            return "oauth2.token", token
        # GCE metadata server
        if path.startswith("/computeMetadata/") or path == "/":
            return "metadata", lambda: self.metadata(method, path)
        # the API
        rel = None
        for prefix in ("/bigquery/v2/", "/"):
            if path.startswith(prefix):
                rel = path[len(prefix):]
                break
        m, params = srv.api.match(method, rel or "")
        if m is None:
            return "unknown", lambda: (404, "text/html; charset=UTF-8", google_html(404, path), None)
        if m == "wrong-method":
            return "unknown", lambda: (405, "json", error_envelope(
                405, "httpMethodNotAllowed", "Method %s is not allowed on %s" % (method, path)), None)

        def api_call():
            failure = srv.auth.check(self.headers.get("Authorization"))
            if failure is not None:
                headers = {"X-Local-Auth-Detail": failure.detail}
                if failure.status == 401:
                    headers["WWW-Authenticate"] = ('Bearer realm="https://accounts.google.com/", '
                                                   'error="invalid_token"')
                return failure.status, "json", error_envelope(
                    failure.status, failure.reason, failure.message,
                    "Authorization" if failure.status == 401 else None,
                    "header" if failure.status == 401 else None), headers
            context = {}
            if fault is not None and fault.get("insert_errors"):
                context["insert_errors"] = fault["insert_errors"]
            base = "http://%s/bigquery/v2/" % self.host()
            try:
                status, obj = srv.api.call(m, params, query, body, base, context)
            except ApiError as e:
                return e.status, "json", error_envelope(e.status, e.reason, e.message, e.location,
                                                        e.location_type, e.extra), None
            except Exception as e:  # a bug here: answer like Google's 500, and say why in the log
                import traceback
                traceback.print_exc()
                return 500, "json", error_envelope(500, "internalError",
                                                   "Local server bug: %s: %s" % (type(e).__name__, e)), None
            return status, "json", obj, None
        return m["id"], api_call

    def metadata(self, method, path):
        srv = self.server
        headers = {"Metadata-Flavor": "Google"}
        if self.headers.get("Metadata-Flavor") != "Google":
            return 403, "text/html; charset=UTF-8", (
                "Missing required header \"Metadata-Flavor\": \"Google\"\n").encode(), headers
        if path == "/":
            return 200, "application/text", b"computeMetadata/\n", headers
        if path == authmod.METADATA_TOKEN_PATH:
            return 200, "json", srv.auth.metadata_token(), headers
        if path == "/computeMetadata/v1/project/project-id":
            return 200, "application/text", srv.cfg.project_name.encode(), headers
        if path == "/computeMetadata/v1/instance/service-accounts/default/email":
            return 200, "application/text", ("default@%s.iam.gserviceaccount.com"
                                             % srv.cfg.project_name).encode(), headers
        if path == "/computeMetadata/v1/instance/service-accounts/default/scopes":
            return 200, "application/text", "\n".join(authmod.BIGQUERY_SCOPES).encode(), headers
        return 404, "text/html; charset=UTF-8", google_html(404, path), headers

    # test hooks
    def internal(self, method, path, query, body):
        srv = self.server
        try:
            obj = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError as e:
            return self.send_json(400, {"error": "bad JSON: %s" % e})
        if path == "/_fault":
            if method == "GET":
                return self.send_json(200, {"pending": srv.faults.pending()})
            if method == "DELETE":
                srv.faults.clear()
                return self.send_json(200, {"pending": []})
            specs = obj.get("faults") if isinstance(obj, dict) and "faults" in obj else [obj]
            try:
                for s in specs:
                    srv.faults.add(s)
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            return self.send_json(200, {"queued": len(specs), "pending": srv.faults.pending()})
        if path == "/_stats":
            return self.send_json(200, self.stats())
        if path == "/_reset":
            if not isinstance(obj, dict):
                obj = {}
            everything = obj.get("all", False)
            if obj.get("faults", True) or everything:
                srv.faults.clear()
            if obj.get("stats") or everything:
                srv.stats.clear()
                for k in srv.api.insert_stats:
                    srv.api.insert_stats[k] = 0
            if obj.get("data") or everything:
                with srv.store.lock:
                    srv.store.clear()
            if obj.get("clock") or everything:
                srv.store.clock_offset = 0.0
            return self.send_json(200, {"ok": True})
        if path == "/_clock":
            if method == "POST":
                adv = obj.get("advance_s", 0) if isinstance(obj, dict) else 0
                if not isinstance(adv, (int, float)):
                    return self.send_json(400, {"error": "advance_s must be a number"})
                with srv.store.lock:
                    srv.store.clock_offset += adv
            return self.send_json(200, {"now": srv.store.now(), "offset_s": srv.store.clock_offset})
        if path == "/_health":
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "unknown test hook %s" % path})

    def stats(self):
        srv = self.server
        with srv.store.lock:
            rows = {}
            tables = {}
            now = srv.store.now()
            for (p, d), ds in srv.store.datasets.items():
                for t, tb in ds.tables.items():
                    if tb.kind != "TABLE":
                        continue
                    key = "%s:%s.%s" % (p, d, t)
                    rows[key] = len(tb.rows)
                    tables[key] = {"rows": len(tb.rows),
                                   "streaming_buffer_rows": sum(1 for r in tb.rows
                                                                if srv.store.in_buffer(r, now)),
                                   "insert_ids": len(tb.dedup)}
        with srv.stats.lock:
            requests = {k: dict(v) for k, v in srv.stats.by_method.items()}
            by_status = dict(srv.stats.by_status)
            total = srv.stats.total
        return {"requests": requests, "by_status": by_status, "total": total, "rows": rows,
                "tables": tables, "insert_all": dict(srv.api.insert_stats),
                "faults_applied": srv.faults.applied, "faults_pending": len(srv.faults.pending()),
                "tokens_issued": srv.auth.issued, "clock_offset_s": srv.store.clock_offset}


def _default(o):
    import decimal
    if isinstance(o, decimal.Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError("not JSON serialisable: %r" % (o,))


def find_discovery(explicit):
    """Google's discovery document: --discovery, $BIGQUERY_DISCOVERY_FILE, or the
    copy shipped next to this file (bigquery-v2-discovery.json.gz; see its SOURCES.md)."""
    candidates = [c for c in (explicit, os.environ.get("BIGQUERY_DISCOVERY_FILE")) if c]
    candidates += [os.path.join(HERE, "bigquery-v2-discovery.json.gz"),
                   os.path.join(HERE, "bigquery-v2-discovery.json")]
    for c in candidates:
        if os.path.exists(c):
            return c
    sys.exit("bigquery-server: Google's discovery document not found (tried %s); give --discovery"
             % ", ".join(candidates))


def read_discovery(path):
    """The document's text; a .gz file is gunzipped."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Local BigQuery REST v2 server for tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--project", action="append", default=[],
                    help="accepted project id (repeatable); default: any project")
    ap.add_argument("--require-auth", choices=("none", "token", "jwt"), default="none")
    ap.add_argument("--public-key", action="append", default=[],
                    help="PEM (public/private key, certificate) or service-account JSON key")
    ap.add_argument("--static-token", action="append", default=[],
                    help="a bearer token accepted without expiry (repeatable)")
    ap.add_argument("--token-lifetime", type=float, default=3600.0)
    ap.add_argument("--dedup-window", type=float, default=600.0)
    ap.add_argument("--streaming-buffer", type=float, default=1800.0)
    ap.add_argument("--new-table-404", type=float, default=0.0)
    ap.add_argument("--html-413-bytes", type=int, default=12 * 1024 * 1024,
                    help="bodies larger than this get Google's HTML 413 (default 12 MiB)")
    ap.add_argument("--state", help="journal file: tables and rows survive a restart")
    ap.add_argument("--discovery", help="Google's BigQuery v2 discovery document")
    ap.add_argument("--quiet", action="store_true", help="no request log on stderr")
    cfg = ap.parse_args(argv)
    cfg.project_name = cfg.project[0] if cfg.project else "local-project"

    discovery_text = read_discovery(find_discovery(cfg.discovery))
    discovery = json.loads(discovery_text)
    store = Store(streaming_buffer=cfg.streaming_buffer, dedup_window=cfg.dedup_window,
                  new_table_404=cfg.new_table_404, state_file=cfg.state, projects=cfg.project)
    try:
        auth = authmod.Auth(cfg.require_auth, cfg.public_key, cfg.token_lifetime, store.now,
                            cfg.static_token, cfg.project_name)
    except (ValueError, OSError) as e:
        sys.exit("bigquery-server: %s" % e)
    api = Api(store, discovery)
    try:
        srv = Server((cfg.host, cfg.port), cfg, store, auth, api, discovery_text)
    except OSError as e:
        sys.exit("bigquery-server: cannot listen on %s:%d: %s" % (cfg.host, cfg.port, e.strerror or e))

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host, port = srv.server_address[:2]
    sys.stdout.write("bigquery-server: ready on http://%s:%d\n" % (host, port))
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        with store.lock:
            if store.journal is not None:
                store.journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
