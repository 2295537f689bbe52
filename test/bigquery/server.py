#!/usr/bin/python3
"""A local BigQuery REST v2 server for f1tel's tests and demo (Python 3 stdlib only).

BigQuery cannot be reached from the test machines, so this server follows
Google's published API description (the discovery document) closely enough
for f1tel's sink, for Google's `bq` CLI and for fault-injection tests: every
request body checked against the discovery document, tabledata.insertAll with
BigQuery's row validation, skipInvalidRows / "stopped" semantics, insertId
de-duplication and payload limits (JSON 400 over 10 MB, Google's HTML 413
for much larger bodies), a streaming buffer that refuses TRUNCATE on fresh
rows, tabledata.list, the views the sink creates and a small SQL subset for
queries (bqsql.py), OAuth (JWT-bearer grant, GCE metadata token), and
Google's error envelope everywhere.

  server.py --port N [--require-auth none|token|jwt] [--public-key PEM]...
            [--static-token T]... [--token-lifetime S] [--discovery FILE]
            [--insert-latency-ms N] [--quiet]

Listens on 127.0.0.1 only and prints "bigquery-server: ready on
http://127.0.0.1:PORT" on stdout (--port 0 picks a free port).  The API is
served under /bigquery/v2/projects/..., as Google serves it; test hooks under /_ (see
README.md next to this file): POST /_fault, GET /_stats, POST /_reset,
POST /_clock, POST /_latency.  Threads: one per connection (HTTP/1.1
keep-alive); all state changes happen under Store.lock, held for the API call
only (bodies are read, parsed, checked and answered outside it).

--insert-latency-ms N (or POST /_latency {"insert_all_ms": N} at run time)
models BigQuery's own request latency for benchmarks: every
tabledata.insertAll is answered N ms after its request arrived (its headers
read), the rows stored first, as BigQuery's are before its answer reaches the
client; a request whose processing took longer is answered at once.  So the
server's own work (Python, ~20-40 us a row) is hidden in the latency instead
of adding to it, as long as it stays under N.  The wait holds no lock:
concurrent requests overlap, 8 inserts at once take ~N ms, not 8 x N.
Default 0; POST /_reset restores the command line's value.
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
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import auth as authmod  # noqa: E402
from api import Api  # noqa: E402
from store import ApiError, Store  # noqa: E402

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
                409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 413: "INVALID_ARGUMENT",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}
RATE_LIMITED = ("Exceeded rate limits: too many api requests per user per method for this "
                "user_method. For more information, see "
                "https://cloud.google.com/bigquery/docs/troubleshoot-quotas")
# what BigQuery answers for a status (or a reason) when a fault names no reason
FAULT_REASONS = {
    500: ("internalError", "An internal error occurred and the request could not be completed. "
          "This is usually caused by a transient issue. Retrying the job with back-off as "
          "described in the BigQuery SLA should solve the problem: "
          "https://cloud.google.com/bigquery/sla. If the error continues to occur please contact "
          "support at https://cloud.google.com/support."),
    503: ("backendError", "Error encountered during execution. Retrying may solve the problem."),
    429: ("rateLimitExceeded", RATE_LIMITED),
    413: ("invalid", "Request payload size exceeds the limit: 10485760 bytes."),
}
REASON_MESSAGES = {r: m for r, m in FAULT_REASONS.values()}
REASON_MESSAGES["quotaExceeded"] = ("Quota exceeded: Your table exceeded quota for imports or "
                                    "query appends per table. For more information, see "
                                    "https://cloud.google.com/bigquery/docs/troubleshoot-quotas")
HTML_413_BYTES = 12 * 1024 * 1024  # bodies above this get the front end's HTML 413
HTML_TEXT = {404: ("Not Found", "The requested URL <code>%s</code> was not found on this server."),
             413: ("Request Entity Too Large", "Your client issued a request that was too large.")}


def google_html(status, path=""):
    """The page Google's front end answers with when the API does not."""
    title, text = HTML_TEXT.get(status, ("Error", "The server cannot process the request."))
    text = text.replace("%s", path.replace("<", "&lt;"))
    return ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
            "  <title>Error %d (%s)!!1</title>\n"
            "  <p><b>%d.</b> <ins>That\u2019s an error.</ins>\n"
            "  <p>%s  <ins>That\u2019s all we know.</ins>\n" % (status, title, status, text)
            ).encode("utf-8")


def error_envelope(status, reason, message, location=None, location_type=None, extra=None):
    err = {"message": message, "domain": "global", "reason": reason}
    if location:
        err.update(location=location, locationType=location_type)
    body = {"code": status, "message": message, "errors": [err],
            "status": STATUS_NAMES.get(status, "UNKNOWN")}
    body.update(extra or {})
    return {"error": body}


class Faults:
    """Queued faults: each applies to the next `count` requests whose path contains
    `path_contains`, in the order queued."""

    KEYS = {"status", "count", "path_contains", "delay_ms", "reset", "body", "reason", "message", "hang"}

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = []
        self.applied = 0
        self.release = threading.Event()   # set: hanging requests go on
        self.hanging = 0                   # requests held by a hang fault now

    def clear(self):
        """Drop every queued fault and let the hanging requests go on."""
        with self.lock:
            self.queue = []
            self.release.set()
            self.release = threading.Event()

    def hang(self):
        """Hold the request until clear() (DELETE /_fault) or the server stops."""
        with self.lock:
            ev = self.release
            self.hanging += 1
        try:
            while not ev.wait(0.2):
                pass
        finally:
            with self.lock:
                self.hanging -= 1

    def add(self, f):
        if not isinstance(f, dict):
            raise ValueError("a fault is a JSON object")
        if set(f) - self.KEYS:
            raise ValueError("unknown fault keys: %s" % ", ".join(sorted(set(f) - self.KEYS)))
        f = dict(f, count=f.get("count", 1))
        if not isinstance(f["count"], int) or f["count"] < 1:
            raise ValueError("count must be a positive integer")
        if "status" in f and not (isinstance(f["status"], int) and 400 <= f["status"] <= 599):
            raise ValueError("status must be an HTTP error status")
        if not isinstance(f.get("delay_ms", 0), (int, float)) or f.get("delay_ms", 0) < 0:
            raise ValueError("delay_ms must be a number of milliseconds")
        if f.get("body", "json") not in ("json", "html"):
            raise ValueError("body must be json or html")
        if "hang" in f and f["hang"] is not True:
            raise ValueError("hang must be true")
        if not any(k in f for k in ("status", "reset", "delay_ms", "hang")):
            raise ValueError("a fault needs status, reset, delay_ms or hang")
        with self.lock:
            self.queue.append(f)

    def take(self, path):
        with self.lock:
            for f in self.queue:
                if f.get("path_contains", "") in path:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.queue.remove(f)
                    self.applied += 1
                    return dict(f)
        return None


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
        self.insert_latency_ms = cfg.insert_latency_ms   # POST /_latency changes it
        self.lock = threading.Lock()
        self.requests = {}            # stats label -> {status: count}
        self.reset_sockets = set()

    def shutdown_request(self, request):
        with self.lock:
            reset = id(request) in self.reset_sockets
            self.reset_sockets.discard(id(request))
        if reset:  # answer nothing: RST instead of FIN
            try:
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close_request(request)
        else:
            ThreadingHTTPServer.shutdown_request(self, request)

    def count(self, label, status):
        with self.lock:
            m = self.requests.setdefault(label, {})
            m[str(status)] = m.get(str(status), 0) + 1

    def discovery_for(self, host):
        """The discovery document, its URLs pointing at this server (for `bq`)."""
        with self.lock:
            if host not in self.discovery_cache:
                d = json.loads(self.discovery_text)
                d["rootUrl"] = d["mtlsRootUrl"] = "http://%s/" % host
                d["baseUrl"] = "http://%s/bigquery/v2/" % host
                d["endpoints"] = []
                self.discovery_cache[host] = json.dumps(d, indent=2).encode("utf-8")
            return self.discovery_cache[host]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bigquery-local/1.0"
    sys_version = ""
    timeout = 120

    def log_message(self, fmt, *args):
        if not self.server.cfg.quiet:
            sys.stderr.write("bigquery-server: %s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        if not self.server.cfg.quiet:
            sys.stderr.write("bigquery-server: %s \"%s\" %s %.0fms\n" % (
                self.address_string(), self.requestline, code, (time.time() - self.t0) * 1000))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def send_raw(self, status, body, ctype, headers=None, close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
                      "application/json; charset=UTF-8", headers)

    def host(self):
        return self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]

    def dispatch(self):
        self.t0 = time.time()
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0 or self.headers.get("Transfer-Encoding"):
            srv.count("front-end", 400)
            return self.send_raw(400, b"Bad Request: only bodies with a Content-Length\n",
                                 "text/plain", close=True)
        body = self.rfile.read(n) if n else b""
        if len(body) < n:
            self.close_connection = True
            return
        if n > HTML_413_BYTES:
            srv.count("front-end", 413)
            return self.send_raw(413, google_html(413), "text/html; charset=UTF-8", close=True)
        if path.startswith("/_"):
            return self.hook(self.command, path, body)
        fault = srv.faults.take(path)
        if fault is not None and fault.get("hang"):  # held unprocessed, then goes on
            srv.faults.hang()
        label, runner = self.route(self.command, path, query, body)
        if fault is not None and ("status" in fault or "reset" in fault):
            return self.apply_fault(fault, label, path)
        status, ctype, payload, headers = runner()
        if fault is not None:  # delay_ms alone: processed, then answered late
            time.sleep(fault.get("delay_ms", 0) / 1000.0)
        self.model_latency(label)
        srv.count(label, status)
        if ctype == "json":
            self.send_json(status, payload, headers)
        else:
            self.send_raw(status, payload, ctype, headers)

    def model_latency(self, label):
        """BigQuery's request latency (--insert-latency-ms): an insertAll is answered that long
        after it arrived (self.t0), holding no lock (other connections' requests are processed
        and answered meanwhile)."""
        ms = self.server.insert_latency_ms
        if ms > 0 and label == "bigquery.tabledata.insertAll":
            wait = self.t0 + ms / 1000.0 - time.time()
            if wait > 0:
                time.sleep(wait)

    def apply_fault(self, f, label, path):
        """Answer with the fault instead of processing the request."""
        time.sleep(f.get("delay_ms", 0) / 1000.0)
        self.model_latency(label)
        if f.get("reset"):
            self.server.count(label, "reset")
            self.close_connection = True
            with self.server.lock:
                self.server.reset_sockets.add(id(self.connection))
            return
        status = f["status"]
        self.server.count(label, status)
        if f.get("body", "html" if status == 413 else "json") == "html":
            return self.send_raw(status, google_html(status, path), "text/html; charset=UTF-8")
        reason, msg = FAULT_REASONS.get(status, ("backendError", "Injected fault."))
        if f.get("reason"):
            reason, msg = f["reason"], REASON_MESSAGES.get(f["reason"], msg)
        msg = f.get("message", msg)
        self.send_json(status, error_envelope(status, reason, msg))

    def route(self, method, path, query, body):
        """(stats label, a function returning (status, "json" or a Content-Type, payload, headers))."""
        srv = self.server
        if method == "GET" and path == "/$discovery/rest":  # what `bq` reads first
            return "discovery", lambda: (200, "application/json; charset=UTF-8",
                                         srv.discovery_for(self.host()), None)
        if method == "POST" and path == authmod.TOKEN_PATH:
            own = ["http://%s%s" % (h, path) for h in (self.host(), "127.0.0.1:%d" % srv.server_address[1],
                                                       "localhost:%d" % srv.server_address[1])]
            return "oauth2.token", lambda: self.token(body, own)
        if method == "GET" and path == authmod.METADATA_TOKEN_PATH:
            return "metadata", self.metadata
        m, params = srv.api.match(method, path[len("/bigquery/v2/"):]) \
            if path.startswith("/bigquery/v2/") else (None, None)
        if m is None:
            return "unknown", lambda: (404, "text/html; charset=UTF-8", google_html(404, path), None)

        def api_call():
            failure = srv.auth.check(self.headers.get("Authorization"))
            if failure is not None:
                return 401, "json", error_envelope(401, failure.reason, failure.message,
                                                   "Authorization", "header"), {
                    "X-Local-Auth-Detail": failure.detail,
                    "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'}
            try:
                status, obj = srv.api.call(m, params, query, body, "http://%s/bigquery/v2/" % self.host(),
                                           self.headers.get("If-Match"))
            except ApiError as e:
                return e.status, "json", error_envelope(e.status, e.reason, e.message, e.location,
                                                        e.location_type, e.extra), None
            except Exception as e:  # a bug here: answer like Google's 500, and say why in the log
                traceback.print_exc()
                return 500, "json", error_envelope(500, "internalError", "Local server bug: %s: %s"
                                                   % (type(e).__name__, e)), None
            return status, "json", obj, None
        return m["id"], api_call

    def token(self, body, own):
        status, obj = self.server.auth.token_endpoint(self.headers.get("Content-Type"), body, own)
        return status, "json", obj, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}

    def metadata(self):
        headers = {"Metadata-Flavor": "Google"}
        if self.headers.get("Metadata-Flavor") != "Google":
            return 403, "text/html; charset=UTF-8", (
                "Missing required header \"Metadata-Flavor\": \"Google\"\n").encode(), headers
        return 200, "json", self.server.auth.issue(), headers

    def hook(self, method, path, body):
        """The test hooks (no auth)."""
        srv = self.server
        try:
            obj = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError as e:
            return self.send_json(400, {"error": "bad JSON: %s" % e})
        if path == "/_fault" and method == "POST":
            try:
                srv.faults.add(obj)
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            return self.send_json(200, {"queued": 1})
        if path == "/_fault" and method == "DELETE":  # drop the faults, release hung requests
            srv.faults.clear()
            return self.send_json(200, {"ok": True})
        if path == "/_stats" and method == "GET":
            return self.send_json(200, self.stats())
        if path == "/_reset" and method == "POST":  # everything: faults, stats, data, clock
            srv.faults.clear()
            with srv.lock:
                srv.requests = {}
                srv.insert_latency_ms = srv.cfg.insert_latency_ms
            with srv.store.lock:
                srv.api.clear_stats()
                srv.store.clear()
                srv.store.clock_offset = 0.0
            return self.send_json(200, {"ok": True})
        if path == "/_clock" and method == "POST":
            adv = obj.get("advance_s") if isinstance(obj, dict) else None
            if not isinstance(adv, (int, float)):
                return self.send_json(400, {"error": "advance_s must be a number"})
            with srv.store.lock:
                srv.store.clock_offset += adv
            return self.send_json(200, {"now": srv.store.now(), "offset_s": srv.store.clock_offset})
        if path == "/_latency" and method == "POST":  # BigQuery's latency, as --insert-latency-ms
            ms = obj.get("insert_all_ms") if isinstance(obj, dict) else None
            if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0 or set(obj) - {"insert_all_ms"}:
                return self.send_json(400, {"error": "give {\"insert_all_ms\": N}, N >= 0"})
            with srv.lock:
                srv.insert_latency_ms = ms
            return self.send_json(200, {"insert_all_ms": ms})
        return self.send_json(404, {"error": "unknown test hook %s %s" % (method, path)})

    def stats(self):
        srv = self.server
        with srv.store.lock:
            rows = {"%s:%s.%s" % (p, d, t): len(tb.rows) for (p, d), ds in srv.store.datasets.items()
                    for t, tb in ds.tables.items() if tb.kind == "TABLE"}
            insert_all = dict(srv.api.insert_stats)
        with srv.lock:
            requests = {k: dict(v) for k, v in srv.requests.items()}
        return {"requests": requests, "rows": rows, "insert_all": insert_all,
                "faults_applied": srv.faults.applied, "tokens_issued": srv.auth.issued,
                "hanging": srv.faults.hanging, "insert_latency_ms": srv.insert_latency_ms}


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
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--require-auth", choices=("none", "token", "jwt"), default="none")
    ap.add_argument("--public-key", action="append", default=[],
                    help="PEM public key that verifies the JWT-bearer grant (repeatable)")
    ap.add_argument("--static-token", action="append", default=[],
                    help="a bearer token accepted without expiry (repeatable)")
    ap.add_argument("--token-lifetime", type=float, default=3600.0)
    ap.add_argument("--discovery", help="Google's BigQuery v2 discovery document")
    ap.add_argument("--insert-latency-ms", type=float, default=0.0,
                    help="answer every tabledata.insertAll this many ms after it arrived "
                         "(BigQuery's request latency; no lock held while waiting; default 0)")
    ap.add_argument("--quiet", action="store_true", help="no request log on stderr")
    cfg = ap.parse_args(argv)
    if cfg.insert_latency_ms < 0:
        ap.error("--insert-latency-ms must be >= 0")

    discovery_text = read_discovery(find_discovery(cfg.discovery))
    store = Store()
    try:
        auth = authmod.Auth(cfg.require_auth, cfg.public_key, cfg.token_lifetime, store.now,
                            cfg.static_token)
    except (ValueError, OSError) as e:
        sys.exit("bigquery-server: %s" % e)
    api = Api(store, json.loads(discovery_text))
    try:
        srv = Server(("127.0.0.1", cfg.port), cfg, store, auth, api, discovery_text)
    except OSError as e:
        sys.exit("bigquery-server: cannot listen on 127.0.0.1:%d: %s" % (cfg.port, e.strerror or e))

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sys.stdout.write("bigquery-server: ready on http://%s:%d\n" % srv.server_address[:2])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
