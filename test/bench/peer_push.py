#!/usr/bin/python3
"""The benchmark's push peer: the seed's approach to BigQuery.

A Python loop that polls PostgreSQL for rows past the last one it sent
(driver_laps by its key, race_control by id, in pages of --batch rows), turns
them into JSON and posts them to tabledata.insertAll with http.client, one
request at a time, until nothing new is left.  Rows carry the same insertIds
f1tel's sink uses.  The dataset and the two tables are created first (not
timed), with the schema of the tables f1tel's sink created in --schema-from.

  peer_push.py --dsn DSN --endpoint http://127.0.0.1:P --project P
               --dataset D --schema-from DATASET [--batch 500] [--limit N]

--limit N measures the server instead: all request bodies are built first
(not timed), then posted by N threads at once, each on its own connection.

Prints one JSON line: rows posted, requests, seconds.
"""

import argparse
import datetime
import http.client
import json
import sys
import threading
import time
import urllib.parse

import psycopg2


class Bq:
    def __init__(self, endpoint, project):
        u = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.base = "/bigquery/v2/projects/%s" % project
        self.project = project

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdr = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, self.base + path, body=data, headers=hdr)
        r = self.conn.getresponse()
        out = r.read()
        return r.status, (json.loads(out) if out else None)


def jsonable(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--schema-from", required=True)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()

    bq = Bq(a.endpoint, a.project)
    st, _ = bq.call("POST", "/datasets", {"datasetReference": {"projectId": a.project,
                                                              "datasetId": a.dataset}})
    if st not in (200, 409):
        sys.exit("peer_push: datasets.insert: %s" % st)
    for t in ("driver_laps", "race_control"):
        st, meta = bq.call("GET", "/datasets/%s/tables/%s" % (a.schema_from, t))
        if st != 200:
            sys.exit("peer_push: tables.get %s.%s: %s" % (a.schema_from, t, st))
        st, _ = bq.call("POST", "/datasets/%s/tables" % a.dataset, {
            "tableReference": {"projectId": a.project, "datasetId": a.dataset, "tableId": t},
            "schema": meta["schema"]})
        if st not in (200, 409):
            sys.exit("peer_push: tables.insert %s: %s" % (t, st))

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute("""SELECT session_key, meeting_key, driver_number, lap_number, date_start, lap_duration,
                          duration_sector_1, duration_sector_2, duration_sector_3, i1_speed, i2_speed,
                          st_speed, is_pit_out_lap, lap_end, position, name_acronym, full_name,
                          team_name, team_colour, version, updated_at
                     FROM f1tel.driver_laps LIMIT 0""")
    dl_cols = [d[0] for d in cur.description]
    rc_cols = ["id", "session_key", "meeting_key", "date", "driver_number", "lap_number", "sector",
               "category", "flag", "scope", "message"]

    rows = requests = 0
    bodies = []

    def post(table, body):
        if a.limit:
            bodies.append((table, json.dumps(body)))
            return
        st, res = bq.call("POST", "/datasets/%s/tables/%s/insertAll" % (a.dataset, table), body)
        if st != 200 or res.get("insertErrors"):
            sys.exit("peer_push: insertAll %s: %s %s" % (table, st, str(res)[:300]))

    t0 = time.time()
    last = (-1, -1, -1)
    while True:
        cur.execute("SELECT %s FROM f1tel.driver_laps WHERE (session_key, driver_number, lap_number) > %%s"
                    " ORDER BY session_key, driver_number, lap_number LIMIT %%s" % ", ".join(dl_cols),
                    (last, a.batch))
        page = cur.fetchall()
        if not page:
            break
        body = {"rows": []}
        for r in page:
            d = {c: jsonable(v) for c, v in zip(dl_cols, r)}
            body["rows"].append({"insertId": "driver_laps:%s:%s:%s:v%s" % (
                d["session_key"], d["driver_number"], d["lap_number"], d["version"]), "json": d})
        post("driver_laps", body)
        rows += len(page)
        requests += 1
        last = (page[-1][0], page[-1][2], page[-1][3])
    last_id = 0
    while True:
        cur.execute("SELECT %s FROM f1tel.race_control WHERE id > %%s ORDER BY id LIMIT %%s"
                    % ", ".join(rc_cols), (last_id, a.batch))
        page = cur.fetchall()
        if not page:
            break
        body = {"rows": []}
        for r in page:
            d = {c: jsonable(v) for c, v in zip(rc_cols, r)}
            body["rows"].append({"insertId": "race_control:%s" % d["id"], "json": d})
        post("race_control", body)
        rows += len(page)
        requests += 1
        last_id = page[-1][0]
    if a.limit:
        errors = []

        def worker(mine):
            c = Bq(a.endpoint, a.project)
            for table, data in mine:
                c.conn.request("POST", "%s/datasets/%s/tables/%s/insertAll" % (c.base, a.dataset, table),
                               body=data.encode(), headers={"Content-Type": "application/json"})
                r = c.conn.getresponse()
                out = json.loads(r.read())
                if r.status != 200 or out.get("insertErrors"):
                    errors.append(r.status)
        t0 = time.time()
        ths = [threading.Thread(target=worker, args=(bodies[i::a.limit],)) for i in range(a.limit)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        if errors:
            sys.exit("peer_push: %d requests failed" % len(errors))
    secs = time.time() - t0
    print(json.dumps({"rows": rows, "requests": requests, "secs": secs, "rate": rows / secs if secs else 0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
