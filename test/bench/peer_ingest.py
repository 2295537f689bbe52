#!/usr/bin/python3
"""The benchmark's ingest peer: what a user would write instead of f1tel.

A confluent_kafka consumer and psycopg2: read a batch of messages, decode the
JSON, do the same natural-key upserts f1tel does into the same tables
(execute_values, one statement per table per batch, ON CONFLICT ... DO UPDATE
... WHERE (...) IS DISTINCT FROM (...), the enrichment triggers on), commit,
then commit the offsets to Kafka.  Records without a complete natural key are
skipped (f1tel stores them as dead letters).  Gap fields (intervals, session_result)
are split as f1tel's decoder splits them: a number goes to the field's column,
"+N LAP(S)" to <field>_laps, a list (qualifying's Q1..Q3) to <field>_q.

  peer_ingest.py --brokers H:P --dsn DSN --group G --expect N \
                 --topic TOPIC=table ... [--batch 10000]

Prints one JSON line: messages, rows written, skipped records, the times of
the first message, the first commit (with its message count) and the last
commit (time.time()), and the CPU seconds of this process (all threads) and
of its PostgreSQL backend.
"""

import argparse
import json
import os
import re
import sys
import time

import psycopg2
import psycopg2.extras
from confluent_kafka import Consumer, KafkaError


def backend_cpu(pid):
    """CPU seconds of the PostgreSQL backend serving us, from /proc (same machine)"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return None


def table_meta(cur, table):
    cur.execute("""
        SELECT a.attname, format_type(a.atttypid, a.atttypmod)
          FROM pg_attribute a
         WHERE a.attrelid = ('f1tel.' || %s)::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname NOT IN ('src_topic', 'src_partition', 'src_offset', 'ingested_at', 'id')
         ORDER BY a.attnum""", (table,))
    cols = cur.fetchall()
    cur.execute("""
        SELECT array_agg(a.attname ORDER BY k.ord)
          FROM pg_constraint c
          CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
         WHERE c.conrelid = ('f1tel.' || %s)::regclass AND c.contype = 'p'""", (table,))
    key = cur.fetchone()[0] or []
    if table == "race_control":
        key = []            # its primary key is the generated id; the record is the key
    return cols, key


def build_sql(table, cols, key):
    names = [c for c, _ in cols]
    casts = []
    for _, t in cols:
        if t.startswith("timestamp"):
            casts.append("%s::timestamptz")
        elif t == "integer[]":
            casts.append("%s::int4[]")
        elif t == "double precision[]":
            casts.append("%s::float8[]")
        else:
            casts.append("%s")
    template = "(" + ", ".join(casts + ["%s", "%s", "%s"]) + ")"
    sql = "INSERT INTO f1tel.%s AS t (%s, src_topic, src_partition, src_offset) VALUES %%s " % (
        table, ", ".join(names))
    if key:
        nonkey = [c for c in names if c not in key]
        sql += "ON CONFLICT (%s) DO UPDATE SET %s, src_topic = EXCLUDED.src_topic, " \
               "src_partition = EXCLUDED.src_partition, src_offset = EXCLUDED.src_offset, " \
               "ingested_at = now() WHERE (%s) IS DISTINCT FROM (%s)" % (
                   ", ".join(key),
                   ", ".join("%s = EXCLUDED.%s" % (c, c) for c in nonkey),
                   ", ".join("t." + c for c in nonkey),
                   ", ".join("EXCLUDED." + c for c in nonkey))
    else:
        sql += "ON CONFLICT ON CONSTRAINT race_control_record_key DO NOTHING"
    return sql, template, names


LAPS_BEHIND = re.compile(r"^\+([0-9]{1,9}) LAPS?$")


def gap_columns(names):
    """{field: (index of field, of field_laps or None, of field_q or None)} for the gap fields"""
    out = {}
    for i, n in enumerate(names):
        lx = names.index(n + "_laps") if n + "_laps" in names else None
        qx = names.index(n + "_q") if n + "_q" in names else None
        if lx is not None or qx is not None:
            out[n] = (i, lx, qx)
    return out


def row_values(r, names, gaps):
    vals = [r.get(n) for n in names]
    for n, (i, lx, qx) in gaps.items():
        v = r.get(n)
        if lx is not None:
            vals[lx] = None
        if qx is not None:
            vals[qx] = None
        if isinstance(v, str):
            m = LAPS_BEHIND.match(v)
            if m is None or lx is None:
                return None
            vals[i], vals[lx] = None, int(m.group(1))
        elif isinstance(v, list):
            if qx is None:
                return None
            vals[i], vals[qx] = None, v
    return vals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--topic", action="append", required=True, help="TOPIC=table")
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    topics = dict(t.split("=", 1) for t in a.topic)
    conn = psycopg2.connect(a.dsn)
    cur = conn.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    plan = {}
    for topic, table in topics.items():
        cols, key = table_meta(cur, table)
        sql, template, names = build_sql(table, cols, key)
        plan[topic] = (table, sql, template, names, key, gap_columns(names))
    conn.commit()
    # writers of laps, drivers and position first, as f1tel does (a lap's trigger then sees its driver)
    order = ["sessions", "meetings", "drivers", "stints", "session_result", "starting_grid",
             "championship_drivers", "championship_teams", "laps", "position", "race_control", "car_data",
             "location", "intervals", "pit", "weather", "overtakes", "team_radio"]

    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 10,
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                  "queued.max.messages.kbytes": 8192})
    c.subscribe(list(topics))
    msgs = rows = skipped = 0
    t_first_msg = t_first_commit = t_last = None
    first_commit_msgs = 0
    deadline = time.time() + a.timeout
    while msgs < a.expect and time.time() < deadline:
        batch = c.consume(num_messages=a.batch, timeout=0.1)
        if not batch:
            continue
        if t_first_msg is None:
            t_first_msg = time.time()
        per_table = {}
        n = 0
        for m in batch:
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                sys.exit("peer_ingest: %s" % m.error())
            n += 1
            table, sql, template, names, key, gaps = plan[m.topic()]
            try:
                recs = json.loads(m.value())
            except ValueError:
                skipped += 1
                continue
            if isinstance(recs, dict):
                recs = [recs]
            d = per_table.setdefault(table, {})
            for r in recs:
                vals = row_values(r, names, gaps)
                if vals is None:
                    skipped += 1
                    continue
                row = tuple(vals) + (m.topic(), m.partition(), m.offset())
                if key:
                    k = tuple(r.get(kc) for kc in key)
                    if None in k:
                        skipped += 1
                        continue
                else:
                    k = row[:-3]
                d[k] = row          # the last message of a key wins
        for table in order:
            d = per_table.get(table)
            if not d:
                continue
            _, sql, template, _, _, _ = next(p for p in plan.values() if p[0] == table)
            vals = list(d.values())
            psycopg2.extras.execute_values(cur, sql, vals, template=template, page_size=len(vals))
            rows += len(vals)
        conn.commit()
        c.commit(asynchronous=False)
        msgs += n
        t_last = time.time()
        if t_first_commit is None:
            t_first_commit = t_last
            first_commit_msgs = n
    c.close()
    print(json.dumps({"msgs": msgs, "rows": rows, "skipped": skipped, "t_first_msg": t_first_msg,
                      "t_first_commit": t_first_commit, "first_commit_msgs": first_commit_msgs,
                      "t_last_commit": t_last, "cpu_secs": time.process_time(),
                      "backend_cpu_secs": backend_cpu(conn.get_backend_pid())}))
    return 0 if msgs >= a.expect else 1


if __name__ == "__main__":
    sys.exit(main())
