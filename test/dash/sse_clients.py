#!/usr/bin/python3
"""test/dash/sse_clients.py — N concurrent event-stream clients of f1tel-dash.

    sse_clients.py URL N MARKER [--timeout S]

Opens N connections to URL (an /api/events URL) at once, one thread each, and
reads Server-Sent Events from them.  When every client has received its
first race_control event it prints "ready N" on stdout; then it waits until
every client has received a race_control event whose data contains MARKER
(the test commits such a row after "ready"), and prints one JSON line:
{"clients": N, "ready": n, "got_marker": n, "max_ms": t, "errors": [...]},
where max_ms is the longest time from "ready" to a client's marker.  Exit
status 0 when all N got it.  Standard library only.
"""
import json
import socket
import sys
import threading
import time
import urllib.parse


def client(url, marker, state, i):
    u = urllib.parse.urlparse(url)
    try:
        s = socket.create_connection((u.hostname, u.port), timeout=state["timeout"])
        path = u.path + ("?" + u.query if u.query else "")
        s.sendall(("GET %s HTTP/1.0\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n"
                   % (path, u.hostname, u.port)).encode())
        f = s.makefile("rb")
        status = f.readline().decode()
        if " 200 " not in status:
            raise RuntimeError("status %r" % status.strip())
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass                            # headers
        event, data = None, []
        seen_first = False
        # HTTP/1.0: the stream comes unchunked, line by line, until the server closes
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("stream ended")
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event is not None:
                if event == "race_control":
                    if not seen_first:
                        seen_first = True
                        with state["lock"]:
                            state["ready"] += 1
                            state["cond"].notify_all()
                    elif marker in "".join(data) and state["go"] is not None:
                        with state["lock"]:
                            state["got"] += 1
                            state["max_ms"] = max(state["max_ms"], (time.time() - state["go"]) * 1000)
                            state["cond"].notify_all()
                        return
                event, data = None, []
    except Exception as e:  # noqa: BLE001 - reported to the test
        with state["lock"]:
            state["errors"].append("client %d: %s" % (i, e))
            state["cond"].notify_all()


def main():
    url, n, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--timeout" else 30.0
    lock = threading.Lock()
    state = {"lock": lock, "cond": threading.Condition(lock), "ready": 0, "got": 0,
             "max_ms": 0.0, "errors": [], "go": None, "timeout": timeout}
    threads = [threading.Thread(target=client, args=(url, marker, state, i), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.time() + timeout
    with lock:
        while state["ready"] + len(state["errors"]) < n and time.time() < deadline:
            state["cond"].wait(0.2)
        state["go"] = time.time()
        ready = state["ready"]
    print("ready %d" % ready, flush=True)
    with lock:
        while state["got"] + len(state["errors"]) < n and time.time() < deadline + timeout:
            state["cond"].wait(0.2)
        out = {"clients": n, "ready": ready, "got_marker": state["got"],
               "max_ms": round(state["max_ms"], 1), "errors": state["errors"][:10]}
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["got_marker"] == n else 1)


if __name__ == "__main__":
    main()
