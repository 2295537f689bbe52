"""test/openf1/mqtt_pub.py — the local OpenF1's MQTT side: publisher and Mosquitto password file.

Publisher: a thread that walks the live session's events (store.events, in
time order) as the simulated clock passes them (those before the clock's
start, visible from the start, are not published: REST has them) and publishes each to topic
`v1/<endpoint>`, QoS 1, payload = the record's JSON with `"_id"` (increasing
over all messages) and `"_key"` (the endpoint's key values joined by `_`)
appended as its last two fields.  paho (Debian 12: 1.6.x API) reconnects by
itself (loop_start + connect_async); while the broker is down nothing is
queued: a message due then is dropped (counted in `lost`), as the real feed
loses it (the first connection is awaited, up to 10 s); nor is what was in
flight at a disconnect resent, so _id never goes back for a subscriber.  Endpoints without key columns (race_control) get
`<session_key>_<time>_<n>`, n counting records of the same time.

PasswdFile: Mosquitto's password file, rewritten whole (plain `user:password`
lines hashed in place by `mosquitto_passwd -U`, in a 0600 temp file renamed
over the old one), then SIGHUP to the pid in --mosquitto-pid-file.  Secrets
never reach a log line or an exception text.
"""
import bisect
import json
import os
import signal
import ssl
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt


class _Client(mqtt.Client):
    """paho 1.6.1 (Debian 12) handles ConnectionError on its socket, but an
    ssl.SSLEOFError (a write to a broker that went away) escapes and kills its
    network thread, is_connected() staying true: turn ssl errors into the
    ConnectionError it handles (the want-read/write ones paho already turned
    into BlockingIOError).  Private methods of paho 1.6.1, pinned by Debian 12."""

    def _sock_send(self, buf):
        try:
            return super()._sock_send(buf)
        except ssl.SSLError as e:
            raise ConnectionError("TLS: %s" % e.__class__.__name__) from e

    def _sock_recv(self, bufsize):
        try:
            return super()._sock_recv(bufsize)
        except ssl.SSLError as e:
            raise ConnectionError("TLS: %s" % e.__class__.__name__) from e

    def _messages_reconnect_reset_out(self):
        """A reconnect resends nothing: what was in flight when the broker went is
        lost, as the real feed loses it, and no subscriber sees an _id go back."""
        with self._out_message_mutex:
            self._inflight_messages = 0
            self._out_messages.clear()


MAX_UNACKED = 20000


def key_of(ep, rec, seen):
    """The document's identity string."""
    if ep.keys:
        return "_".join("" if rec.get(k) is None else str(rec.get(k)) for k in ep.keys)
    base = "%s_%s" % (rec.get("session_key"), rec.get(ep.time_field) if ep.time_field else "")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return "%s_%d" % (base, n)


class Publisher(threading.Thread):
    def __init__(self, store, clock, host, port, cafile, user, password, log):
        super().__init__(daemon=True, name="mqtt-publisher")
        self.store, self.clock, self.log = store, clock, log
        self.published = 0
        self.lost = 0
        self.acked = 0      # PUBACKs (paho's thread); published - acked = in flight or queued
        self.stop_ev = threading.Event()
        self.keys = self._keys()
        self.client = _Client(client_id="openf1-local-%d" % os.getpid(), clean_session=True)
        self.client.username_pw_set(user, password)
        if cafile:
            self.client.tls_set(ca_certs=cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.host, self.port = host, port

    def _keys(self):
        """{(endpoint, idx): _key} of every record that has events."""
        seen, keys = {}, {}
        eps = {e.name: e for e in self.store.endpoints}
        for _, name, i, _, _ in self.store.events:
            if (name, i) not in keys:
                keys[(name, i)] = key_of(eps[name], self.store.tables[name].recs[i], seen)
        return keys

    def _on_connect(self, client, userdata, flags, rc):
        self.acked = self.published   # nothing is in flight after a (re)connect
        self.log("mqtt: connect to %s:%d: %s" % (self.host, self.port, mqtt.connack_string(rc)))

    def _on_disconnect(self, client, userdata, rc):
        self.log("mqtt: disconnected (rc %d)" % rc)

    def _on_publish(self, client, userdata, mid):
        self.acked += 1

    def _backpressure(self):
        """Waits while more than MAX_UNACKED messages are unacknowledged: paho 1.6
        numbers messages 1..65535 and loses some past that; the feed then lags
        behind the clock instead (up to 2 s per wait, then goes on)."""
        end = time.monotonic() + 2
        while (self.published - self.acked > MAX_UNACKED and self.client.is_connected()
               and not self.stop_ev.is_set() and time.monotonic() < end):
            self.stop_ev.wait(0.005)
        if time.monotonic() >= end:
            self.acked = self.published   # acks lost with a connection: start counting again

    def run(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        # the first connection is awaited (10 s at most), so that the records due
        # at the start are not lost to the connect itself
        end = time.monotonic() + 10
        while not self.stop_ev.is_set() and not self.client.is_connected() and time.monotonic() < end:
            self.stop_ev.wait(0.05)
        events = self.store.events
        # what is already visible at the start is not "passed by the clock": not published
        n, mid = bisect.bisect_right([e[0] for e in events], self.clock.start_us), 0
        speed = self.clock.speed
        while not self.stop_ev.is_set() and n < len(events):
            now = self.clock.now_us()
            while n < len(events) and events[n][0] <= now:
                _, name, i, _, text = events[n]
                n += 1
                mid += 1
                payload = b"%s,\"_id\":%d,\"_key\":%s}" % (text[:-1], mid, json.dumps(self.keys[(name, i)]).encode())
                if self.published - self.acked > MAX_UNACKED:
                    self._backpressure()
                if not self.client.is_connected():
                    self.lost += 1
                    continue
                info = self.client.publish("v1/" + name, payload, qos=1)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    self.published += 1
                else:
                    self.lost += 1
            if n < len(events):
                wait = (events[n][0] - self.clock.now_us()) / 1e6 / speed
                self.stop_ev.wait(min(max(wait, 0.001), 0.2))
        self.stop_ev.wait()
        self.client.loop_stop()

    def stop(self):
        self.stop_ev.set()
        try:
            self.client.disconnect()
        except Exception:  # already down: nothing to say
            pass


class PasswdFile:
    """Mosquitto's password file: fixed entries plus per-user tokens."""

    def __init__(self, path, pid_file, fixed, log):
        self.path, self.pid_file, self.fixed, self.log = path, pid_file, dict(fixed), log
        self.lock = threading.Lock()
        self.current = None

    def write(self, entries):
        """entries {user: password}: the file holds fixed + entries; reloads Mosquitto
        when the content changed."""
        allx = dict(entries)
        allx.update(self.fixed)
        with self.lock:
            if allx == self.current:
                return
            d = os.path.dirname(os.path.abspath(self.path))
            fd, tmp = tempfile.mkstemp(prefix=".passwd-", dir=d)
            try:
                with os.fdopen(fd, "w") as f:
                    for u in sorted(allx):
                        f.write("%s:%s\n" % (u, allx[u]))
                try:
                    r = subprocess.run(["mosquitto_passwd", "-U", tmp], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                except OSError as e:
                    self.log("mosquitto_passwd: %s" % e.strerror)
                    return
                if r.returncode != 0:
                    self.log("mosquitto_passwd -U failed (status %d)" % r.returncode)
                    return
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.path)
                tmp = None
            finally:
                if tmp is not None and os.path.exists(tmp):
                    os.unlink(tmp)
            self.current = allx
            self.reload()

    def reload(self):
        if not self.pid_file:
            return
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as e:
            self.log("mosquitto reload: %s: %s" % (self.pid_file, e.strerror if isinstance(e, OSError) else e))

