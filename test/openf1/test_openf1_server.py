"""Self-test of the local OpenF1 server (test/openf1/openf1_server.py), over real HTTP and MQTT.

Run:  /usr/bin/python3 test/openf1/test_openf1_server.py [-v]
Each test class starts its own server on a free port (--port 0) over the
recorded sessions in test/data/openf1/ and talks to it with urllib; the live
classes also start a TLS Mosquitto with test/openf1/mosquitto.sh in a temp
folder and subscribe with paho (Debian 12: python3-paho-mqtt 1.6, through
mqtt_pub._Client, which survives a broker restart).  What is expected comes
from the files themselves (never restated here), and the endpoint list from
src/shared/endpoints.c (endpoint_table.py).  Runtime: about a minute; the live
run goes at --speed 600 (a 2-hour race in ~13 s) over 9606 without its
telemetry (more than a Python MQTT subscriber takes in at that speed); the
telemetry's feed is ReconnectTest's, at --speed 300.
"""

import gzip
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "test", "data", "openf1")
SERVER = os.path.join(HERE, "openf1_server.py")
MOSQUITTO_SH = os.path.join(HERE, "mosquitto.sh")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.dont_write_bytecode = True

import endpoint_table  # noqa: E402
import mqtt_pub  # noqa: E402
import server_proc  # noqa: E402
from query import to_us  # noqa: E402

ENDPOINTS = [e.name for e in endpoint_table.load(ROOT)]


def read(path):
    """A file's text (for a failure's message)."""
    with open(path) as f:
        return f.read()


def load(session, name):
    for fn, op in ((name + ".json", open), (name + ".json.gz", gzip.open)):
        p = os.path.join(DATA, str(session), fn)
        if os.path.exists(p):
            with op(p, "rb") as f:
                return json.loads(f.read().decode("utf-8"))
    return []


def raw_file(session, name):
    with open(os.path.join(DATA, str(session), name + ".json"), "rb") as f:
        return f.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(*args):
    return server_proc.start(SERVER, *args)


def stop_server(p):
    server_proc.stop(p)


class Http:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def req(self, path, token=None, method="GET", form=None, body=None):
        """(status, headers, body bytes)."""
        data = None
        headers = {}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        r = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path, token=None):
        st, _, b = self.req(path, token)
        return st, json.loads(b) if b and b[:1] in (b"[", b"{") else b

    def token(self, user="alice", password="pw"):
        st, _, b = self.req("/token", method="POST", form={"username": user, "password": password})
        return st, json.loads(b)

    def control(self, what, body=None):
        st, _, b = self.req("/_control/" + what, method="POST" if body is not None else "GET", body=body)
        return json.loads(b)


class HistoryTest(unittest.TestCase):
    """Both sessions, no live session: REST, filters, csv, errors, tokens, faults."""

    @classmethod
    def setUpClass(cls):
        cls.p, port = start_server("--data", os.path.join(DATA, "9189"), "--data", os.path.join(DATA, "9606"),
                                   "--user", "alice:pw", "--rate", "1000/10", "--rate-auth", "1000/10",
                                   "--slow-ms", "300")
        cls.h = Http(port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.p)

    def test_every_endpoint(self):
        for name in ENDPOINTS:
            st, body = self.h.get("/v1/%s?meeting_key=1246" % name)
            want = [r for r in load(9606, name) if r.get("meeting_key") == 1246]
            if name in ("car_data", "location"):
                continue   # > --max-rows: see test_slow_query
            if want:
                self.assertEqual((st, body), (200, want), name)
            else:
                self.assertEqual((st, body), (404, {"detail": "No results found."}), name)
        self.assertEqual(self.h.get("/v1/tyres"), (404, {"detail": "Not Found"}))

    def test_file_text(self):
        """A session's answer is the file, byte for byte (same names, values, order)."""
        for name in ("laps", "position", "drivers", "stints", "session_result", "weather", "pit"):
            st, _, b = self.h.req("/v1/%s?session_key=9606" % name)
            self.assertEqual((st, b), (200, raw_file(9606, name)), name)

    def test_operators(self):
        laps = load(9606, "laps")
        st, got = self.h.get("/v1/laps?session_key=9606&driver_number=1&lap_number%3E=10&lap_number<12")
        self.assertEqual([r["lap_number"] for r in got], [10, 11])
        st, got = self.h.get("/v1/laps?session_key=9606&lap_duration>120")
        self.assertEqual(got, [r for r in laps if r["lap_duration"] is not None and r["lap_duration"] > 120])
        st, got = self.h.get("/v1/laps?session_key=9606&lap_duration<=95.5&driver_number=4")
        self.assertEqual(got, [r for r in laps if r["driver_number"] == 4 and r["lap_duration"] is not None
                               and r["lap_duration"] <= 95.5])
        # dates as instants: offset, no offset, fraction, another offset
        lo, hi = "2024-09-22T12:30:00", "2024-09-22T20:45:00.5+08:00"
        want = [r for r in load(9606, "position") if to_us(lo) <= to_us(r["date"]) < to_us(hi)]
        self.assertTrue(want)
        st, got = self.h.get("/v1/position?session_key=9606&date>=%s&date<%s" % (lo, urllib.parse.quote(hi)))
        self.assertEqual(got, want)
        # a bare date after > means from the next day
        self.assertEqual(self.h.get("/v1/pit?session_key=9606&date>2024-09-22")[0], 404)
        self.assertEqual(self.h.get("/v1/pit?session_key=9606&date>2024-09-21")[1], load(9606, "pit"))
        # text and bool fields
        st, got = self.h.get("/v1/stints?session_key=9606&compound=HARD")
        self.assertEqual(got, [r for r in load(9606, "stints") if r["compound"] == "HARD"])
        st, got = self.h.get("/v1/laps?session_key=9606&is_pit_out_lap=true")
        self.assertEqual(got, [r for r in laps if r["is_pit_out_lap"] is True])

    def test_or(self):
        st, got = self.h.get("/v1/laps?session_key=9606&driver_number=4&driver_number=81&lap_number=5")
        self.assertEqual(got, [r for r in load(9606, "laps") if r["driver_number"] in (4, 81)
                               and r["lap_number"] == 5])
        self.assertEqual(len(got), 2)
        st, got = self.h.get("/v1/sessions?session_key=9189&session_key=9606")
        self.assertEqual([r["session_key"] for r in got], [9189, 9606])

    def test_latest(self):
        st, got = self.h.get("/v1/sessions?session_key=latest")
        self.assertEqual(got, load(9606, "sessions"))   # no --live: real time, 9606 started last
        st, got = self.h.get("/v1/drivers?meeting_key=latest&driver_number=1")
        self.assertEqual(got, [r for r in load(9606, "drivers") if r["driver_number"] == 1])

    def test_csv(self):
        st, hdr, b = self.h.req("/v1/pit?session_key=9606&csv=true")
        lines = b.decode().splitlines()
        pit = load(9606, "pit")
        self.assertEqual(st, 200)
        self.assertIn("text/csv", hdr["Content-Type"])
        self.assertEqual(lines[0], ",".join(pit[0].keys()))
        self.assertEqual(len(lines), len(pit) + 1)

    def test_no_results(self):
        self.assertEqual(self.h.get("/v1/laps?session_key=9606&driver_number=99"),
                         (404, {"detail": "No results found."}))

    def test_slow_query(self):
        t = time.monotonic()
        st, body = self.h.get("/v1/car_data?session_key=9189")
        self.assertEqual(st, 422)
        self.assertIn("too much data", body["detail"])
        self.assertGreaterEqual(time.monotonic() - t, 0.3)

    def test_history_download_speed(self):
        """car_data per driver per time window, as a history download asks for it."""
        cars = load(9189, "car_data")
        t0, total, n = time.monotonic(), 0, 0
        for d in (1, 11):
            for a, b in (("05:00", "06:30"), ("06:30", "07:30"), ("07:30", "09:00")):
                q = "session_key=9189&driver_number=%d&date>=2023-11-19T%s:00&date<2023-11-19T%s:00" % (d, a, b)
                st, got = self.h.get("/v1/car_data?" + q)
                self.assertEqual(st, 200)
                want = [r for r in cars if r["driver_number"] == d and r["date"] and
                        to_us("2023-11-19T%s:00" % a) <= to_us(r["date"]) < to_us("2023-11-19T%s:00" % b)]
                self.assertEqual(got, want)
                total += len(got)
                n += 1
        self.assertEqual(total, sum(1 for r in cars if r["driver_number"] in (1, 11)))
        per = (time.monotonic() - t0) / n
        self.assertLess(per, 1.5, "%.2f s per request" % per)

    def test_tokens(self):
        st, tok = self.h.token()
        self.assertEqual(st, 200)
        self.assertEqual(sorted(tok), ["access_token", "expires_in", "token_type"])
        self.assertEqual((tok["expires_in"], tok["token_type"]), (3600, "bearer"))
        self.assertEqual(self.h.token("alice", "nope"), (401, {"detail": "Invalid username or password"}))
        self.assertEqual(self.h.token("bob", "pw"), (401, {"detail": "Invalid username or password"}))
        self.assertEqual(self.h.get("/v1/sessions", tok["access_token"])[0], 200)
        self.assertEqual(self.h.get("/v1/sessions", "not-a-token"), (401, {"detail": "Invalid or expired token"}))

    def test_faults(self):
        self.h.control("faults", {"token_fail_next": 1})
        self.assertEqual(self.h.token()[0], 502)
        st, tok = self.h.token()
        self.assertEqual(st, 200)
        self.h.control("faults", {"fail_next": 2, "fail_status": 503})
        self.assertEqual([self.h.get("/v1/sessions")[0] for _ in range(3)], [503, 503, 200])
        self.h.control("faults", {"storm_seconds": 1})
        st, hdr, _ = self.h.req("/v1/sessions")
        self.assertEqual((st, hdr["Retry-After"]), (429, "1"))
        time.sleep(1.1)
        self.assertEqual(self.h.get("/v1/sessions")[0], 200)
        self.h.control("faults", {"expire_tokens": True})
        self.assertEqual(self.h.get("/v1/sessions", tok["access_token"]), (401, {"detail": "Invalid or expired token"}))
        st, _, _ = self.h.req("/_control/faults", method="POST", body={"bogus": 1})
        self.assertEqual(st, 400)
        stats = self.h.control("stats")
        for k in ("requests", "by_status", "max_in_window", "window_seconds", "tokens_issued",
                  "mqtt_published", "now", "live_ended"):
            self.assertIn(k, stats)
        self.assertGreaterEqual(stats["by_status"]["503"], 2)
        clock = self.h.control("clock")
        self.assertEqual((clock["live_session"], clock["ended"]), (None, False))


class RateTest(unittest.TestCase):
    """--rate 5/2, --rate-auth 10/2, --token-ttl 1: the windows, Retry-After, expiry."""

    @classmethod
    def setUpClass(cls):
        cls.p, port = start_server("--data", os.path.join(DATA, "9606"), "--user", "alice:pw",
                                   "--rate", "5/2", "--rate-auth", "10/2", "--token-ttl", "1")
        cls.h = Http(port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.p)

    def burst(self, token=None):
        """Statuses of requests sent as fast as possible until the first 429, and its headers."""
        out = []
        while True:
            st, hdr, body = self.h.req("/v1/sessions", token)
            out.append(st)
            if st == 429:
                return out, hdr, json.loads(body)
            if len(out) > 50:
                return out, None, None

    def test_windows(self):
        time.sleep(2.1)
        got, hdr, body = self.burst()
        self.assertEqual(got, [200] * 5 + [429])
        self.assertEqual(body, {"detail": "Too many requests"})
        retry = int(hdr["Retry-After"])
        self.assertTrue(1 <= retry <= 2, retry)
        # a client that keeps asking (and obeys Retry-After) never gets more than 5 in 2 s
        end = time.monotonic() + 3
        answered = 0
        while time.monotonic() < end:
            st, hdr, _ = self.h.req("/v1/sessions")
            if st == 429:
                time.sleep(0.2)
            else:
                answered += 1
        stats = self.h.control("stats")
        self.assertEqual(stats["max_in_window"], 5)
        self.assertEqual(stats["window_seconds"], 2)
        self.assertGreaterEqual(answered, 5)
        # with a token: the --rate-auth window
        time.sleep(2.1)
        st, tok = self.h.token()
        got, hdr, _ = self.burst(tok["access_token"])
        self.assertEqual(got, [200] * 10 + [429])
        # tokens expire in real seconds
        time.sleep(2.1)
        self.assertEqual(self.h.get("/v1/sessions", tok["access_token"]),
                         (401, {"detail": "Invalid or expired token"}))


class Broker:
    """A Mosquitto of mosquitto.sh in a temp folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="openf1-mqtt-")
        self.port = free_port()
        with open(os.path.join(self.dir, "server-password"), "w") as f:
            f.write("srv-secret\n")
        self.start()

    def start(self):
        subprocess.run([MOSQUITTO_SH, "start", self.dir, str(self.port)], check=True)

    def stop(self):
        subprocess.run([MOSQUITTO_SH, "stop", self.dir], check=True)

    def server_args(self):
        d = self.dir
        return ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(self.port), "--mqtt-cafile", d + "/ca.crt",
                "--mqtt-user", "openf1-server", "--mqtt-password-file", d + "/server-password",
                "--mosquitto-passwd", d + "/passwd", "--mosquitto-pid-file", d + "/mosquitto.pid"]

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


class Sub:
    """A paho subscriber: messages [(topic, payload dict)], CONNACK codes."""

    def __init__(self, broker, user, password, topics=("v1/#",)):
        self.msgs, self.rcs = [], []
        self.lock = threading.Lock()
        self.topics = topics
        self.c = mqtt_pub._Client(client_id="test-%s-%f" % (user, time.time()), clean_session=True)
        self.c.username_pw_set(user, password)
        self.c.tls_set(ca_certs=os.path.join(broker.dir, "ca.crt"), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.reconnect_delay_set(1, 1)
        self.c.on_connect = self.on_connect
        self.c.on_message = self.on_message
        self.c.connect_async("127.0.0.1", broker.port)
        self.c.loop_start()

    def on_connect(self, client, userdata, flags, rc):
        self.rcs.append(rc)
        if rc == 0:
            for t in self.topics:
                client.subscribe(t, qos=1)

    def on_message(self, client, userdata, m):
        with self.lock:
            self.msgs.append((m.topic, json.loads(m.payload)))

    def wait_connack(self, seconds=5):
        end = time.monotonic() + seconds
        while not self.rcs and time.monotonic() < end:
            time.sleep(0.05)
        return self.rcs[0] if self.rcs else None

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class LiveTest(unittest.TestCase):
    """--live 9606 at --speed 600 with withheld records and the MQTT feed."""

    WITHHOLD = 7

    def test_live(self):
        broker = Broker()
        self.addCleanup(broker.cleanup)
        # 9606 without its telemetry (car_data, location: ReconnectTest's), which
        # at 600x is more than a Python MQTT client takes in
        data = tempfile.mkdtemp(prefix="openf1-data-")
        self.addCleanup(subprocess.run, ["rm", "-rf", data])
        for fn in os.listdir(os.path.join(DATA, "9606")):
            if not fn.startswith(("car_data", "location")):
                os.symlink(os.path.join(DATA, "9606", fn), os.path.join(data, fn))
        p, port = start_server("--data", data, "--live", "9606", "--speed", "600",
                               "--lead", "1800", "--user", "alice:pw", "--rate-auth", "100000/10",
                               "--withhold-every", str(self.WITHHOLD), "--backfill-after", "600",
                               *broker.server_args())
        self.addCleanup(stop_server, p)
        h = Http(port)
        session = load(9606, "sessions")[0]
        ds, de = to_us(session["date_start"]), to_us(session["date_end"])
        # before the start: no token needed; the session's untimed records are there
        self.assertLess(to_us(h.control("clock")["now"]), ds)
        self.assertEqual(h.get("/v1/drivers?session_key=9606")[1], load(9606, "drivers"))
        self.assertEqual(h.get("/v1/laps?session_key=9606")[0], 404)
        self.assertEqual(h.get("/v1/sessions?session_key=latest")[0], 404)   # 9606 not started yet
        st, tok = h.token()
        token = tok["access_token"]
        sub = Sub(broker, "alice", token, ("v1/laps", "v1/stints", "v1/pit", "v1/position", "v1/session_result"))
        self.addCleanup(sub.close)
        self.assertEqual(sub.wait_connack(), 0)
        bad = Sub(broker, "alice", "wrong-password")
        self.addCleanup(bad.close)
        self.assertEqual(bad.wait_connack(), 5)   # not authorised
        f1tel = Sub(broker, "f1tel", token, ("v1/session_result",))
        self.addCleanup(f1tel.close)
        self.assertEqual(f1tel.wait_connack(), 0)

        laps = load(9606, "laps")
        file_laps = {(r["driver_number"], r["lap_number"]): (i, r) for i, r in enumerate(laps)}
        stints_file = {(r["driver_number"], r["stint_number"]): r for r in load(9606, "stints")}
        seen = {}            # (driver, lap) -> [lap_duration, ...] as polled
        absent_late = set()  # withheld laps missing when complete, their successor shown
        stint_short = set()
        saw_401 = saw_no_result = False
        while True:
            before = to_us(h.control("clock")["now"])
            if ds <= before < de:
                if not saw_401:
                    st, body = h.get("/v1/sessions")
                    self.assertEqual(st, 401)
                    self.assertEqual(body["detail"], "Session in progress, access is restricted to authenticated users")
                    saw_401 = True
                if not saw_no_result and before < de - 600 * 1000000:
                    saw_no_result = h.get("/v1/session_result?session_key=9606", token)[0] == 404
            st, got = h.get("/v1/laps?session_key=9606", token)
            after_clock = h.control("clock")
            after = to_us(after_clock["now"])
            if st == 200:
                shown = set()
                for r in got:
                    k = (r["driver_number"], r["lap_number"])
                    shown.add(k)
                    self.assertLessEqual(to_us(r["date_start"]), after)
                    seen.setdefault(k, []).append(r["lap_duration"])
                for k, (i, r) in file_laps.items():
                    nxt = (k[0], k[1] + 1)
                    if (i % self.WITHHOLD == self.WITHHOLD - 1 and k not in shown and nxt in shown
                            and r["lap_duration"] is not None
                            and to_us(r["date_start"]) + r["lap_duration"] * 1e6 < before):
                        absent_late.add(k)
            st, got = h.get("/v1/stints?session_key=9606", token)
            for r in (got if st == 200 else []):
                if r["lap_end"] < stints_file[(r["driver_number"], r["stint_number"])]["lap_end"]:
                    stint_short.add((r["driver_number"], r["stint_number"]))
            if after_clock["ended"]:
                break
            time.sleep(0.25)
        self.assertTrue(saw_401)
        self.assertEqual(h.get("/v1/sessions?session_key=latest", token)[1], load(9606, "sessions"))
        self.assertTrue(saw_no_result, "session_result before date_end")
        grown = [k for k, v in seen.items() if v[0] is None and v[-1] is not None]
        self.assertGreater(len(grown), 50, "laps first served with a null lap_duration, later complete")
        self.assertTrue(absent_late, "withheld laps missing while their successor was shown")
        self.assertTrue(all(k in seen for k in absent_late), "withheld laps appear after the backfill")
        self.assertTrue(stint_short, "stints served with a lap_end still growing")
        # the end: every record is the file's, and no token is needed any more
        for name in ("laps", "position", "pit", "stints", "session_result", "weather", "race_control",
                     "overtakes", "drivers"):
            st, _, b = h.req("/v1/%s?session_key=9606" % name, token)
            self.assertEqual((name, st, b), (name, 200, raw_file(9606, name)))

        # MQTT: every version, _id increasing, _key the identity, the last version the file's
        last_n, stats = -1, h.control("stats")
        while stats["mqtt_published"] != last_n:   # the publisher may lag behind the clock
            last_n = stats["mqtt_published"]
            time.sleep(0.5)
            stats = h.control("stats")
        self.assertEqual(stats["mqtt_lost"], 0)
        self.assertGreater(stats["mqtt_published"], 5000)
        with sub.lock:
            msgs = list(sub.msgs)
        ids = [m["_id"] for _, m in msgs]
        self.assertEqual(ids, sorted(set(ids)), "_id increasing")
        last = {}
        count = {}
        for topic, m in msgs:
            key = m.pop("_key")
            m.pop("_id")
            if topic == "v1/laps":
                self.assertEqual(key, "%d_%d_%d" % (m["session_key"], m["driver_number"], m["lap_number"]))
            last[(topic, key)] = m
            count[(topic, key)] = count.get((topic, key), 0) + 1
        lap_msgs = {k: v for (t, k), v in last.items() if t == "v1/laps"}
        self.assertEqual(len(lap_msgs), len(laps))
        for r in laps:
            self.assertEqual(lap_msgs["9606_%d_%d" % (r["driver_number"], r["lap_number"])], r)
        self.assertGreater(sum(1 for (t, _), n in count.items() if t == "v1/laps" and n > 1), 500)
        self.assertEqual(sorted(json.dumps(m) for (t, _), m in last.items() if t == "v1/position"),
                         sorted(json.dumps(r) for r in load(9606, "position")))
        self.assertEqual([m for (t, _), m in last.items() if t == "v1/session_result"],
                         load(9606, "session_result"))
        # user f1tel logs in with anyone's newest token
        with f1tel.lock:
            self.assertEqual([(m.pop("_id"), m.pop("_key"))[0] and m for _, m in f1tel.msgs],
                             load(9606, "session_result"))


class ReconnectTest(unittest.TestCase):
    """The publisher survives a Mosquitto restart; expired tokens leave the password file."""

    def test_restart_and_expiry(self):
        broker = Broker()
        self.addCleanup(broker.cleanup)
        users = os.path.join(broker.dir, "users")
        with open(users, "w") as f:
            f.write("# accounts\nalice:pw\n\nbob:bob-secret\n")
        p, port = start_server("--data", os.path.join(DATA, "9606"), "--live", "9606", "--speed", "60",
                               "--start-at", "2024-09-22T13:20:00Z", "--users", users,
                               "--log", os.path.join(broker.dir, "server.log"), *broker.server_args())
        self.addCleanup(stop_server, p)
        h = Http(port)
        token = h.token()[1]["access_token"]
        sub = Sub(broker, "alice", token, ("v1/car_data",))
        self.addCleanup(sub.close)
        self.assertEqual(sub.wait_connack(), 0)
        time.sleep(1)
        broker.stop()
        with sub.lock:
            first = sub.msgs[-1][1]["_id"]   # the last message before the stop
        time.sleep(0.5)
        broker.start()
        # both clients reconnect (1-2 s back-off); on a loaded machine the Python
        # subscriber takes its time, hence the generous wait and the speed (60x:
        # the session's car_data lasts 90 s, some 400 messages a second)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            with sub.lock:
                if sub.msgs and sub.msgs[-1][1]["_id"] > first + 1000:
                    break
            time.sleep(0.1)
        with sub.lock:
            self.assertGreater(sub.msgs[-1][1]["_id"], first + 1000, "messages after the restart "
                               "(subscriber CONNACKs %r, server stats %r, server log %s)"
                               % (sub.rcs, h.control("stats"), read(os.path.join(broker.dir, "server.log"))))
            ids = [m["_id"] for _, m in sub.msgs]
        self.assertEqual(ids, sorted(set(ids)), "_id increasing (nothing resent after the restart)")
        self.assertGreater(len(set(range(ids[0], ids[-1] + 1)) - set(ids)), 0, "lost while down")
        self.assertGreater(h.control("stats")["mqtt_lost"], 0)
        # expiry reaches Mosquitto: the old token no longer logs in
        h.control("faults", {"expire_tokens": True})
        time.sleep(0.5)
        again = Sub(broker, "alice", token)
        self.addCleanup(again.close)
        self.assertEqual(again.wait_connack(), 5)
        with open(os.path.join(broker.dir, "passwd")) as f:
            users = [ln.split(":", 1)[0] for ln in f.read().splitlines()]
        self.assertEqual(users, ["openf1-server"])
        self.assertEqual(h.token("bob", "bob-secret")[0], 200)
        for fn in ("mosquitto.log", "server.log"):
            with open(os.path.join(broker.dir, fn)) as f:
                log = f.read()
            self.assertIn("127.0.0.1", log)
            for secret in (token, "srv-secret", "bob-secret", "pw\n"):
                self.assertNotIn(secret, log, fn)


if __name__ == "__main__":
    unittest.main()
