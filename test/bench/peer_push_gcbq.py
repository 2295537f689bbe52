#!/usr/bin/env python3
"""The benchmark's push peer: the seed's BigQuery sync script, with Google's own client.

The seed pushed PostgreSQL to BigQuery with google-cloud-bigquery: every
--poll-s seconds (10) it asked PostgreSQL for the rows that are new or
changed since its last poll and sent them with
client.insert_rows_json(table, rows[i:i + 1000]), one request at a time,
checking each answer's errors.  This script does that against the local
BigQuery server (test/bigquery/server.py, usually with --insert-latency-ms
modelling BigQuery's latency), so the benchmark compares f1tel's sink with
the library itself rather than with a re-implementation of it.

What a reader must know:
- Run it with a python that has google-cloud-bigquery: the venv of
  test/install-deps.sh (f1tel_install_bq_python, $F1TEL_BQ_PYTHON).  That
  venv has no psycopg2; Debian's python3-psycopg2 (same python 3.11) is
  taken from /usr/lib/python3/dist-packages when the venv lacks it.
- Auth: AnonymousCredentials and client_options api_endpoint = --endpoint
  (the local server runs with --require-auth none, as in the benchmark).
- The source, as peer_push.py (the http.client peer) reads it:
  f1tel.driver_laps, new or changed = (updated_at, session_key,
  driver_number, lap_number) past the last row sent (the seed's watermark on
  updated_at; a row committed later with an older updated_at would be missed,
  as the seed's would); f1tel.race_control by id.  Every driver_laps column
  the BigQuery table has is sent (the same width as f1tel's sink rows), with
  the insertIds f1tel's sink uses (driver_laps:<s>:<d>:<l>:v<version>,
  race_control:<id>), passed as row_ids; timestamps as ISO 8601 text.
- The dataset and the two tables are created first (not timed), with the
  schema of the tables f1tel's sink created in --schema-from.
- Timing: from the first poll's query to the last acknowledgement.  With
  --exit-when-idle (the benchmark's way) it stops at the first poll that
  finds nothing new, and that poll's wait does not count; otherwise it runs
  until --max-secs.  --max-rows N stops once N rows were sent.

  peer_push_gcbq.py --dsn DSN --endpoint http://127.0.0.1:P --project P
                    --dataset D --schema-from DATASET [--batch 1000]
                    [--poll-s 10] [--exit-when-idle] [--max-secs S]

Prints one JSON line: rows, requests, polls, secs, rate (rows/s), and where
the time went (insert_rows_json calls: total seconds, p50/p99 per request;
the PostgreSQL queries and row building: seconds).
"""

import argparse
import datetime
import json
import sys
import time

try:
    import psycopg2
except ImportError:  # the venv of google-cloud-bigquery: Debian's psycopg2 for the same python
    sys.path.append("/usr/lib/python3/dist-packages")
    import psycopg2

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

RC_COLS = ["id", "session_key", "meeting_key", "date", "driver_number", "lap_number", "sector",
           "category", "flag", "scope", "message"]


def jsonable(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    return v


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--endpoint", required=True, help="the local BigQuery server's URL")
    ap.add_argument("--project", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--schema-from", required=True, help="dataset whose tables give the schema")
    ap.add_argument("--batch", type=int, default=1000, help="rows per insert_rows_json (the seed: 1000)")
    ap.add_argument("--poll-s", type=float, default=10.0, help="seconds between polls (the seed: 10)")
    ap.add_argument("--exit-when-idle", action="store_true",
                    help="stop at the first poll that finds nothing new")
    ap.add_argument("--max-secs", type=float, default=600.0)
    ap.add_argument("--max-rows", type=int, default=0)
    a = ap.parse_args()

    client = bigquery.Client(project=a.project, credentials=AnonymousCredentials(),
                             client_options=ClientOptions(api_endpoint=a.endpoint))
    client.create_dataset(bigquery.Dataset("%s.%s" % (a.project, a.dataset)), exists_ok=True)
    tables = {}
    for t in ("driver_laps", "race_control"):
        src = client.get_table("%s.%s.%s" % (a.project, a.schema_from, t))
        tables[t] = client.create_table(bigquery.Table("%s.%s.%s" % (a.project, a.dataset, t),
                                                       schema=src.schema), exists_ok=True)

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute("SELECT * FROM f1tel.driver_laps LIMIT 0")
    bq_names = {f.name for f in tables["driver_laps"].schema}
    dl_cols = [d[0] for d in cur.description if d[0] in bq_names]
    for k in ("session_key", "driver_number", "lap_number", "version", "updated_at"):
        if k not in dl_cols:
            sys.exit("peer_push_gcbq: driver_laps.%s is not in the BigQuery table" % k)
    dl_sql = ("SELECT %s FROM f1tel.driver_laps WHERE (updated_at, session_key, driver_number, lap_number)"
              " > (%%s, %%s, %%s, %%s) ORDER BY updated_at, session_key, driver_number, lap_number"
              % ", ".join('"%s"' % c for c in dl_cols))
    rc_sql = "SELECT %s FROM f1tel.race_control WHERE id > %%s ORDER BY id" % ", ".join(RC_COLS)
    i_sk, i_dn, i_ln, i_v, i_ua = (dl_cols.index(k) for k in
                                   ("session_key", "driver_number", "lap_number", "version", "updated_at"))

    rows = requests = polls = 0
    req_secs = []
    pg_secs = 0.0
    dl_mark = (datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc), -1, -1, -1)
    rc_mark = 0
    t0 = time.time()
    t_last_ack = None
    t_first_ack = None

    def push(table, batch, ids):
        nonlocal requests, rows, t_last_ack, t_first_ack
        for i in range(0, len(batch), a.batch):
            r0 = time.time()
            errors = client.insert_rows_json(tables[table], batch[i:i + a.batch], row_ids=ids[i:i + a.batch])
            t = time.time()
            if errors:
                sys.exit("peer_push_gcbq: insert_rows_json %s: %s" % (table, json.dumps(errors)[:500]))
            req_secs.append(t - r0)
            requests += 1
            rows += len(batch[i:i + a.batch])
            t_last_ack = t
            t_first_ack = t_first_ack or t

    while True:
        p0 = time.time()
        polls += 1
        cur.execute(dl_sql, dl_mark)
        dl = cur.fetchall()
        cur.execute(rc_sql, (rc_mark,))
        rc = cur.fetchall()
        batch = [{c: jsonable(v) for c, v in zip(dl_cols, r)} for r in dl]
        ids = ["driver_laps:%s:%s:%s:v%s" % (r[i_sk], r[i_dn], r[i_ln], r[i_v]) for r in dl]
        rc_batch = [{c: jsonable(v) for c, v in zip(RC_COLS, r)} for r in rc]
        rc_ids = ["race_control:%s" % r[0] for r in rc]
        pg_secs += time.time() - p0
        if dl:
            dl_mark = (dl[-1][i_ua], dl[-1][i_sk], dl[-1][i_dn], dl[-1][i_ln])
        if rc:
            rc_mark = rc[-1][0]
        if not dl and not rc and a.exit_when_idle:
            break
        push("driver_laps", batch, ids)
        push("race_control", rc_batch, rc_ids)
        if a.max_rows and rows >= a.max_rows:
            break
        if time.time() - t0 >= a.max_secs:
            break
        time.sleep(max(0.0, a.poll_s - (time.time() - p0)))
    t_end = t_last_ack or time.time()
    secs = t_end - t0
    print(json.dumps({"rows": rows, "requests": requests, "polls": polls, "secs": secs,
                      "rate": rows / secs if secs > 0 else 0, "batch": a.batch, "poll_s": a.poll_s,
                      "columns": len(dl_cols), "insert_secs": sum(req_secs),
                      "insert_p50_ms": (pct(req_secs, 50) or 0) * 1000,
                      "insert_p99_ms": (pct(req_secs, 99) or 0) * 1000,
                      "pg_and_rows_secs": pg_secs,
                      "client": "google-cloud-bigquery %s" % bigquery.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
