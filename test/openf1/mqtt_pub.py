"""test/openf1/mqtt_pub.py — the local OpenF1's MQTT side: publisher and Mosquitto password file.

Publisher: a thread that walks the live session's events (store.events, in
time order) as the simulated clock passes them and publishes each to topic
`v1/<endpoint>`, QoS 1, payload = the record's JSON with `"_id"` (increasing
over all messages) and `"_key"` (the endpoint's key values joined by `_`)
appended as its last two fields.  paho (Debian 12: 1.6.x API) reconnects by
itself (loop_start + connect_async); while the broker is down nothing is
queued: a message due then is dropped (counted in `lost`), as the real feed
loses it.  Endpoints without key columns (race_control) get
`<session_key>_<time>_<n>`, n counting records of the same time.

PasswdFile: Mosquitto's password file, rewritten whole (plain `user:password`
lines hashed in place by `mosquitto_passwd -U`, in a 0600 temp file renamed
over the old one), then SIGHUP to the pid in --mosquitto-pid-file.  Secrets
never reach a log line or an exception text.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt


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
        self.stop_ev = threading.Event()
        self.keys = self._keys()
        self.client = mqtt.Client(client_id="openf1-local-%d" % os.getpid(), clean_session=True)
        self.client.username_pw_set(user, password)
        if cafile:
            self.client.tls_set(ca_certs=cafile)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
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
        self.log("mqtt: connect to %s:%d: %s" % (self.host, self.port, mqtt.connack_string(rc)))

    def _on_disconnect(self, client, userdata, rc):
        self.log("mqtt: disconnected (rc %d)" % rc)

    def run(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        events = self.store.events
        n, mid = 0, 0
        speed = self.clock.speed
        while not self.stop_ev.is_set() and n < len(events):
            now = self.clock.now_us()
            while n < len(events) and events[n][0] <= now:
                _, name, i, _, text = events[n]
                n += 1
                mid += 1
                payload = b"%s,\"_id\":%d,\"_key\":%s}" % (text[:-1], mid, json.dumps(self.keys[(name, i)]).encode())
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
                r = subprocess.run(["mosquitto_passwd", "-U", tmp], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
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


def wait_connected(client, seconds):
    end = time.time() + seconds
    while time.time() < end and not client.is_connected():
        time.sleep(0.05)
    return client.is_connected()
