#!/usr/bin/python3
"""test/bigquery/server.py, unchanged, plus a log of when each row was acknowledged.

For the benchmark's push latency: every insertAll that answers 200 appends
"<insertId>\t<time.time()>" for each of its rows to the file named by
$BENCH_ACK_LOG, just before the answer is sent.  Arguments are server.py's.
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
_orig = api.Api.insert_all


def insert_all(self, params, query, body):
    status, out = _orig(self, params, query, body)
    t = time.time()
    if status == 200:
        lines = "".join("%s\t%.6f\n" % (r.get("insertId"), t) for r in body.get("rows") or []
                        if isinstance(r, dict))
        with _lock:
            _log.write(lines)
    return status, out


api.Api.insert_all = insert_all

if __name__ == "__main__":
    sys.exit(server.main())
