#!/usr/bin/python3
"""test/openf1/openf1_server.py — a local stand-in for the OpenF1 API (REST, token, MQTT feed).

api.openf1.org cannot be reached from the test machines; this server serves
recorded sessions (test/data/openf1/<key>/) the way OpenF1 does, for
f1tel-feed's OpenF1 source and its tests.  The behaviour is the one of
section 1 of the issue-11 contract (/work/wt/OPENF1_CONTRACT.md; summed up in
README.md next to this file): REST at /v1/<endpoint> with OpenF1's filters,
csv, 404 "No results found.", 422 for too much data, a per-IP sliding-window
rate limit (429 + Retry-After), POST /token and Bearer tokens, the 401 of a
session in progress, a simulated clock over one --live session (records
appear, laps fill in, stints grow, withheld records come late) and the MQTT
feed of that session through a local Mosquitto (mosquitto.sh), with tokens
as MQTT passwords.  Test hooks under /_control/ (not rate-limited, no token).

Rules a reader must know:
  - Debian's /usr/bin/python3, stdlib + python3-paho-mqtt (1.6 API) only;
  - the data is loaded once and read-only afterwards (store.py); every other
    piece of shared state has its own lock;
  - a record's answer is its file text (same names, same values, same order);
    only a live-session record still changing is re-encoded (store.py);
  - no secret (password, token) in any log line: requests are logged as
    method, path and status; Authorization and /token bodies never;
  - the endpoint list is src/shared/endpoints.c's (endpoint_table.py).

  openf1_server.py --data DIR [--data DIR ...] [--host H] [--port N] [--port-file F]
      [--live KEY --speed N [--start-at ISO | --lead S]] [--users FILE | --user U:P ...]
      [--token-ttl S] [--rate N/S] [--rate-auth N/S] [--max-rows N] [--slow-ms MS]
      [--withhold-every N] [--backfill-after S] [--mqtt-host H --mqtt-port P
      [--mqtt-cafile F] --mqtt-user U --mqtt-password-file F]
      [--mosquitto-passwd FILE --mosquitto-pid-file FILE] [--log FILE]

Prints "openf1-server: ready on http://HOST:PORT" on stdout once listening.
"""
import argparse
import collections
import csv
import email.utils
import gc
import hmac
import io
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from query import Filter, iso, to_us  # noqa: E402
from store import Store  # noqa: E402

LIVE_GRACE_US = 10 * 60 * 1000000   # the 401 of a live session lasts until date_end + 10 min
D_NOT_FOUND = {"detail": "Not Found"}
D_NO_RESULTS = {"detail": "No results found."}
D_SLOW = {"detail": "Query timed out: too much data requested. Narrow the query (driver_number, date)."}
D_RATE = {"detail": "Too many requests"}
D_BAD_LOGIN = {"detail": "Invalid username or password"}
D_BAD_TOKEN = {"detail": "Invalid or expired token"}
D_LIVE = {"detail": "Session in progress, access is restricted to authenticated users"}


class Clock:
    """sim_now = start + (real_now - server_start) * speed; without --live, real time."""

    def __init__(self, start_us=None, speed=1.0):
        self.start_us, self.speed = start_us, speed
        self.t0 = time.monotonic()

    def now_us(self):
        if self.start_us is None:
            return int(time.time() * 1000000)
        return self.start_us + int((time.monotonic() - self.t0) * self.speed * 1000000)


class RateLimiter:
    """Sliding windows per client IP; only admitted requests are recorded."""

    def __init__(self, window_s):
        self.lock = threading.Lock()
        self.seen = collections.defaultdict(collections.deque)
        self.window_s = window_s          # --rate's window: the one max_in_window is over
        self.max_in_window = 0

    def admit(self, ip, n, s):
        """(True, 0) and recorded, or (False, Retry-After seconds)."""
        now = time.monotonic()
        with self.lock:
            q = self.seen[ip]
            keep = max(s, self.window_s)
            while q and q[0] <= now - keep:
                q.popleft()
            inside = [t for t in q if t > now - s]
            if len(inside) >= n:
                frees = inside[len(inside) - n] + s
                return False, max(1, int(math.ceil(frees - now)))
            q.append(now)
            self.max_in_window = max(self.max_in_window, sum(1 for t in q if t > now - self.window_s))
            return True, 0


class Auth:
    """Users, tokens (real-time expiry) and the Mosquitto password file they make."""

    def __init__(self, users, ttl, passwd):
        self.users, self.ttl, self.passwd = users, ttl, passwd
        self.lock = threading.Lock()
        self.tokens = {}       # token -> (user, expiry monotonic, serial)
        self.issued = 0

    def login(self, user, password):
        want = self.users.get(user)
        if want is None or not hmac.compare_digest(want.encode(), password.encode()):
            return None
        tok = secrets.token_urlsafe(32)
        with self.lock:
            self.issued += 1
            self.tokens[tok] = (user, time.monotonic() + self.ttl, self.issued)
        self.sync()
        return tok

    def valid(self, tok):
        with self.lock:
            t = self.tokens.get(tok)
            return t is not None and t[1] > time.monotonic()

    def expire_all(self):
        with self.lock:
            self.tokens.clear()
        self.sync()

    def entries(self):
        """{mqtt user: newest valid token}: each user's own, and f1tel's (anyone's)."""
        now = time.monotonic()
        newest = {}
        with self.lock:
            for tok, (user, exp, serial) in self.tokens.items():
                if exp <= now:
                    continue
                for u in (user, "f1tel"):
                    if u not in newest or newest[u][0] < serial:
                        newest[u] = (serial, tok)
        return {u: tok for u, (serial, tok) in newest.items()}

    def sync(self):
        if self.passwd is not None:
            self.passwd.write(self.entries())


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.storm_until = 0.0
        self.fail_next = 0
        self.fail_status = 503
        self.token_fail_next = 0

    def take_fail(self):
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status
            return None

    def take_token_fail(self):
        with self.lock:
            if self.token_fail_next > 0:
                self.token_fail_next -= 1
                return True
            return False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64   # a client opening several connections at once

    def __init__(self, addr, cfg, store, clock, auth, logf):
        super().__init__(addr, Handler)
        self.cfg, self.store, self.clock, self.auth = cfg, store, clock, auth
        self.limiter = RateLimiter(cfg.rate[1])
        self.faults = Faults()
        self.stats_lock = threading.Lock()
        self.requests = 0
        self.by_status = collections.Counter()
        self.publisher = None
        self.logf = logf
        self.log_lock = threading.Lock()

    def log(self, line):
        if self.logf is None:
            return
        with self.log_lock:
            self.logf.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), line))
            self.logf.flush()

    def count(self, status):
        with self.stats_lock:
            self.requests += 1
            self.by_status[str(status)] += 1

    def live_state(self, now):
        """(in progress: the 401 applies, ended: every record is the file's)."""
        sk = self.store.live_sk
        if sk is None:
            return False, False
        ds, de, _ = self.store.sessions[sk]
        return ds <= now < de + LIVE_GRACE_US, now >= self.store.end_all


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openf1-local/1"

    def log_message(self, fmt, *args):  # the server's own log instead (no secrets in it)
        pass

    def date_time_string(self, timestamp=None):
        """The Date header tells the simulated now: a client of a live session
        knows the session's time from it (f1tel-feed --live ends by it)."""
        if timestamp is None:
            timestamp = self.server.clock.now_us() / 1000000
        return email.utils.formatdate(timestamp, usegmt=True)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status

    def dispatch(self, method):
        t0 = time.monotonic()
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        srv = self.server
        try:
            if path.startswith("/_control/"):
                status = self.control(method, path, body)
            else:
                if path.rstrip("/") == "/token" and method == "POST":
                    status = self.token(body)
                elif path.startswith("/v1/"):
                    status = self.v1(method, path[4:].strip("/"), query)
                else:
                    status = self.send(404, D_NOT_FOUND)
                srv.count(status)
        except (BrokenPipeError, ConnectionResetError):
            status = 499    # the client went away
        except Exception as e:  # a bug here: a 500, and why in the log
            srv.log("bug: %s: %s" % (type(e).__name__, e))
            traceback.print_exc()
            status = self.send(500, {"detail": "Internal Server Error"})
        srv.log("%s %s %s %d %.1fms" % (self.client_address[0], method, path if path.startswith("/token")
                                         else self.path, status, (time.monotonic() - t0) * 1000))

    # ---- /token ----------------------------------------------------------------

    def token(self, body):
        srv = self.server
        if srv.faults.take_token_fail():
            return self.send(502, {"detail": "Bad Gateway"})
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        user = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        tok = srv.auth.login(user, password) if user else None
        if tok is None:
            return self.send(401, D_BAD_LOGIN)
        ttl = srv.auth.ttl
        return self.send(200, {"access_token": tok, "expires_in": int(ttl) if ttl == int(ttl) else ttl,
                               "token_type": "bearer"}, headers={"Cache-Control": "no-store"})

    # ---- /v1 -------------------------------------------------------------------

    def v1(self, method, name, query):
        srv, cfg = self.server, self.server.cfg
        with srv.faults.lock:
            storm = srv.faults.storm_until > time.monotonic()
        if storm:
            return self.send(429, D_RATE, headers={"Retry-After": "1"})
        tok = None
        h = self.headers.get("Authorization") or ""
        if h[:7].lower() == "bearer ":
            tok = h[7:].strip()
        valid = tok is not None and srv.auth.valid(tok)
        n, s = cfg.rate_auth if valid else cfg.rate
        ok, retry = srv.limiter.admit(self.client_address[0], n, s)
        if not ok:
            return self.send(429, D_RATE, headers={"Retry-After": str(retry)})
        fail = srv.faults.take_fail()
        if fail is not None:
            try:
                phrase = HTTPStatus(fail).phrase
            except ValueError:
                phrase = "Error"
            return self.send(fail, {"detail": phrase})
        if tok is not None and not valid:
            return self.send(401, D_BAD_TOKEN)
        now = srv.clock.now_us()
        in_progress, ended = srv.live_state(now)
        if in_progress and not valid:
            return self.send(401, D_LIVE)
        if method != "GET":
            return self.send(405, {"detail": "Method Not Allowed"})
        table = srv.store.tables.get(name)
        if table is None:
            return self.send(404, D_NOT_FOUND)
        filt = Filter(query)
        if filt.latest:
            sk, mk = srv.store.latest(now)
            for f in filt.latest:
                filt.resolve_latest(f, sk if f == "session_key" else mk)
        rows = table.select(filt, now, None if ended else srv.store.live_sk)
        if not rows:
            return self.send(404, D_NO_RESULTS)
        if len(rows) > cfg.max_rows:
            time.sleep(cfg.slow_ms / 1000.0)
            return self.send(422, D_SLOW)
        if filt.csv:
            return self.send(200, to_csv(rows), "text/csv; charset=utf-8")
        return self.send(200, b"[" + b",".join(t for _, t in rows) + b"]")

    # ---- /_control -------------------------------------------------------------

    def control(self, method, path, body):
        srv = self.server
        now = srv.clock.now_us()
        _, ended = srv.live_state(now)
        if method == "GET" and path == "/_control/stats":
            with srv.stats_lock:
                out = {"requests": srv.requests, "by_status": dict(srv.by_status)}
            with srv.auth.lock:
                issued = srv.auth.issued
            pub = srv.publisher
            out.update(max_in_window=srv.limiter.max_in_window, window_seconds=srv.limiter.window_s,
                       tokens_issued=issued, mqtt_published=pub.published if pub else 0,
                       mqtt_lost=pub.lost if pub else 0, now=iso(now), live_ended=ended)
            return self.send(200, out)
        if method == "GET" and path == "/_control/clock":
            return self.send(200, {"now": iso(now), "speed": srv.clock.speed if srv.store.live_sk else 1,
                                   "live_session": srv.store.live_sk, "ended": ended})
        if method == "POST" and path == "/_control/faults":
            try:
                obj = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                known = {"storm_seconds", "fail_next", "fail_status", "token_fail_next", "expire_tokens"}
                if set(obj) - known:
                    raise ValueError("unknown keys: %s" % ", ".join(sorted(set(obj) - known)))
                for k in ("storm_seconds", "fail_next", "fail_status", "token_fail_next"):
                    if k in obj and (not isinstance(obj[k], (int, float)) or isinstance(obj[k], bool)
                                     or obj[k] < 0):
                        raise ValueError("%s must be a number >= 0" % k)
            except ValueError as e:
                return self.send(400, {"detail": "bad faults: %s" % e})
            with srv.faults.lock:
                if "storm_seconds" in obj:
                    srv.faults.storm_until = time.monotonic() + obj["storm_seconds"]
                if "fail_next" in obj:
                    srv.faults.fail_next = int(obj["fail_next"])
                    srv.faults.fail_status = int(obj.get("fail_status", 503))
                if "token_fail_next" in obj:
                    srv.faults.token_fail_next = int(obj["token_fail_next"])
            if obj.get("expire_tokens"):
                srv.auth.expire_all()
            return self.send(200, {"ok": True})
        return self.send(404, D_NOT_FOUND)


def to_csv(rows):
    """CSV of the rows; header = the first record's fields, in its order."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    head = list(rows[0][0].keys())
    w.writerow(head)
    for d, _ in rows:
        w.writerow(["" if d.get(k) is None else d.get(k) for k in head])
    return out.getvalue().encode("utf-8")


def rate_arg(text):
    try:
        n, s = text.split("/")
        n, s = int(n), float(s)
        if n < 1 or s <= 0:
            raise ValueError
        return n, s
    except ValueError:
        raise argparse.ArgumentTypeError("want N/SECONDS, e.g. 30/10: %r" % text)


def read_users(cfg):
    users = {}
    lines = []
    if cfg.users:
        with open(cfg.users, encoding="utf-8") as f:
            lines += [(cfg.users, ln) for ln in f.read().splitlines()]
    lines += [("--user", u) for u in cfg.user]
    for where, ln in lines:
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        if ":" not in ln or not ln.split(":", 1)[0]:
            sys.exit("openf1-server: %s: a user is NAME:PASSWORD" % where)  # the line not shown: a secret
        u, p = ln.split(":", 1)
        users[u] = p
    return users


def parse_args(argv):
    ap = argparse.ArgumentParser(description="A local stand-in for the OpenF1 API.")
    ap.add_argument("--data", action="append", required=True, help="a session folder (repeatable)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--live", type=int)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--start-at")
    ap.add_argument("--lead", type=float, default=60.0)
    ap.add_argument("--users")
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--token-ttl", type=float, default=3600.0)
    ap.add_argument("--rate", type=rate_arg, default=(30, 10.0))
    ap.add_argument("--rate-auth", type=rate_arg, default=(60, 10.0))
    ap.add_argument("--max-rows", type=int, default=30000)
    ap.add_argument("--slow-ms", type=float, default=300.0)
    ap.add_argument("--withhold-every", type=int, default=0)
    ap.add_argument("--backfill-after", type=float, default=600.0)
    ap.add_argument("--mqtt-host")
    ap.add_argument("--mqtt-port", type=int)
    ap.add_argument("--mqtt-cafile")
    ap.add_argument("--mqtt-user")
    ap.add_argument("--mqtt-password-file")
    ap.add_argument("--mosquitto-passwd")
    ap.add_argument("--mosquitto-pid-file")
    ap.add_argument("--log")
    cfg = ap.parse_args(argv)
    if cfg.speed <= 0:
        ap.error("--speed must be > 0")
    if cfg.mqtt_host and not (cfg.live and cfg.mqtt_port and cfg.mqtt_user and cfg.mqtt_password_file):
        ap.error("--mqtt-host needs --live, --mqtt-port, --mqtt-user and --mqtt-password-file")
    if cfg.start_at is not None and to_us(cfg.start_at) is None:
        ap.error("--start-at: not an ISO 8601 date-time")
    return cfg


def main(argv=None):
    cfg = parse_args(argv)
    logf = open(cfg.log, "a", encoding="utf-8") if cfg.log else None
    try:
        store = Store(cfg.data)
        if cfg.live is not None:
            store.make_live(cfg.live, cfg.withhold_every, int(cfg.backfill_after * 1000000))
    except (OSError, ValueError) as e:
        sys.exit("openf1-server: %s" % e)
    # the data never changes: out of the cyclic GC's sight (a full collection over a
    # million records would add a tenth of a second to the requests that trigger it)
    gc.collect()
    gc.freeze()
    clock = Clock()
    if cfg.live is not None:
        start = to_us(cfg.start_at) if cfg.start_at else store.sessions[cfg.live][0] - int(cfg.lead * 1000000)
        clock = Clock(start, cfg.speed)
    mqtt_password = None
    if cfg.mqtt_password_file:
        with open(cfg.mqtt_password_file, encoding="utf-8") as f:
            mqtt_password = f.read().strip()
    passwd = None
    if cfg.mosquitto_passwd:
        import mqtt_pub
        fixed = {cfg.mqtt_user: mqtt_password} if cfg.mqtt_user and mqtt_password else {}
        passwd = mqtt_pub.PasswdFile(cfg.mosquitto_passwd, cfg.mosquitto_pid_file, fixed,
                                     lambda line: srv.log(line))
    auth = Auth(read_users(cfg), cfg.token_ttl, passwd)
    try:
        srv = Server((cfg.host, cfg.port), cfg, store, clock, auth, logf)
    except OSError as e:
        sys.exit("openf1-server: cannot listen on %s:%d: %s" % (cfg.host, cfg.port, e.strerror or e))
    auth.sync()
    if cfg.mqtt_host:
        import mqtt_pub
        srv.publisher = mqtt_pub.Publisher(store, clock, cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_cafile,
                                           cfg.mqtt_user, mqtt_password, srv.log)
        srv.publisher.start()

    def housekeeping():   # token expiry reaches Mosquitto's password file
        while True:
            time.sleep(0.5)
            auth.sync()
    threading.Thread(target=housekeeping, daemon=True).start()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = srv.server_address[1]
    if cfg.port_file:
        tmp = cfg.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, cfg.port_file)
    sys.stdout.write("openf1-server: ready on http://%s:%d\n" % (cfg.host, port))
    sys.stdout.flush()
    srv.log("ready on %s:%d (live %s, speed %g)" % (cfg.host, port, cfg.live, clock.speed))
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        if srv.publisher:
            srv.publisher.stop()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
