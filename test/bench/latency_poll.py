#!/usr/bin/python3
"""The benchmark's visibility poller (live-pace latency).

Every --interval seconds, in autocommit (a fresh snapshot per statement):
  - f1tel.kafka_offsets of the group: when a partition's next_offset moves
    from a to b, messages a..b-1 became visible (rows and offsets commit
    together, so this dates every message of every topic);
  - f1tel.laps rows and f1tel.driver_laps (key, version) seen for the first
    time.
Each event carries the time.time() at which the observing query started (an
upper bound of the commit time; the error is at most one interval plus the
query time).  Writes JSON lines to --out; stops on SIGTERM or after --max-secs.
"""

import argparse
import json
import signal
import sys
import time

import psycopg2

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.002)
    ap.add_argument("--max-secs", type=float, default=300)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)

    conn = psycopg2.connect(a.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    offsets = {}
    laps_seen = set()
    dl_seen = set()
    polls = 0
    out = open(a.out, "w")
    end = time.time() + a.max_secs
    while not stop and time.time() < end:
        t = time.time()
        cur.execute("SELECT topic, partition, next_offset FROM f1tel.kafka_offsets"
                    " WHERE group_id = %s AND next_offset IS NOT NULL", (a.group,))
        for topic, part, nxt in cur.fetchall():
            k = (topic, part)
            prev = offsets.get(k, 0)
            if nxt > prev:
                out.write(json.dumps(["off", topic, part, prev, nxt, t]) + "\n")
                offsets[k] = nxt
        cur.execute("SELECT 'l', src_partition, src_offset, session_key, driver_number, lap_number, 0"
                    "  FROM f1tel.laps WHERE ingested_at > now() - interval '5 s'"
                    " UNION ALL "
                    "SELECT 'd', 0, 0, session_key, driver_number, lap_number, version"
                    "  FROM f1tel.driver_laps WHERE updated_at > now() - interval '5 s'")
        for kind, part, off, s, d, lap, ver in cur.fetchall():
            if kind == "l":
                k = (part, off)
                if k not in laps_seen:
                    laps_seen.add(k)
                    out.write(json.dumps(["lap", part, off, s, d, lap, t]) + "\n")
            else:
                k = (s, d, lap, ver)
                if k not in dl_seen:
                    dl_seen.add(k)
                    out.write(json.dumps(["dl", s, d, lap, ver, t]) + "\n")
        polls += 1
        time.sleep(a.interval)
    out.write(json.dumps(["polls", polls]) + "\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
