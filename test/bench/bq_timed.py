#!/usr/bin/python3
"""test/bigquery/server.py, unchanged, plus a log of when each row was acknowledged.

For the benchmark's push latency: every insertAll that answers 200 appends
"<insertId>\t<time.time()>" for each of its rows to the file named by
$BENCH_ACK_LOG, just before the answer is written to the socket, i.e. after
the modelled BigQuery latency (--insert-latency-ms) has passed, so the time
is when the client gets its acknowledgement.  Arguments are server.py's.

How: the rows of a 200 answer are kept per thread (one thread per
connection) by a wrapper of api.Api.insert_all, and written out by a
wrapper of server.Handler.send_json, which sends every JSON answer.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bigquery"))

import api  # noqa: E402
import server  # noqa: E402

_log = open(os.environ["BENCH_ACK_LOG"], "a", buffering=1)
_lock = threading.Lock()
_pending = threading.local()    # insertIds of this thread's answer being prepared
_orig_insert_all = api.Api.insert_all
_orig_send_json = server.Handler.send_json


def insert_all(self, params, query, body):
    status, out = _orig_insert_all(self, params, query, body)
    if status == 200:
        _pending.ids = [r.get("insertId") for r in body.get("rows") or [] if isinstance(r, dict)]
    return status, out


def send_json(self, status, obj, headers=None):
    ids = getattr(_pending, "ids", None)
    _pending.ids = None
    if ids and status == 200:
        t = time.time()
        lines = "".join("%s\t%.6f\n" % (i, t) for i in ids)
        with _lock:
            _log.write(lines)
    return _orig_send_json(self, status, obj, headers)


api.Api.insert_all = insert_all
server.Handler.send_json = send_json

if __name__ == "__main__":
    sys.exit(server.main())
