#!/usr/bin/python3
"""The benchmark's Kafka-only latency: a plain consumer beside f1tel at live pace.

Reads the given topics from offset 0 (they are empty when it starts; the
partitions are assigned directly, no group) with f1tel's fetch settings, and for every message writes
"<topic> <receive time - CreateTime in ms>" to --out, until SIGTERM.  What
it measures is the part of f1tel's latency that is Kafka's (the test broker
does not wake an idle fetch, so it is about fetch.wait.max.ms / 2 on average).
"""

import argparse
import signal
import sys
import time

from confluent_kafka import Consumer, TopicPartition

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fetch-wait-ms", type=int, default=10)
    ap.add_argument("topics", nargs="+")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": "bench-live-consumer",
                  "enable.auto.commit": False, "fetch.wait.max.ms": a.fetch_wait_ms,
                  "queued.max.messages.kbytes": 8192})
    md = c.list_topics(timeout=10)
    parts = [TopicPartition(t, p, 0) for t in a.topics for p in md.topics[t].partitions]
    c.assign(parts)
    out = open(a.out, "w")
    print("ready", flush=True)
    while not stop:
        m = c.poll(0.05)
        if m is None or m.error():
            continue
        t = time.time()
        out.write("%s %.3f\n" % (m.topic(), t * 1000 - m.timestamp()[1]))
    out.close()
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
