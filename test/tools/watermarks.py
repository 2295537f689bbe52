#!/usr/bin/python3
"""test/tools/watermarks.py — the broker's high watermark of every partition.

Used by test/demo.sh to know when f1tel has read everything the feed wrote:
it asks the broker itself (not f1tel), through confluent_kafka (Debian's
python3-confluent-kafka, librdkafka underneath), and prints one JSON array of
{"topic", "partition", "high"} for every partition of every non-internal
topic, or only of the topics named.  Exit 1 with a message on any error.

    watermarks.py --brokers HOST:PORT [TOPIC ...]
"""
import argparse
import json
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per broker request")
    ap.add_argument("topics", nargs="*")
    args = ap.parse_args()
    c = Consumer({"bootstrap.servers": args.brokers, "group.id": "f1tel-watermarks",
                  "enable.auto.commit": False, "log_level": 3})
    try:
        md = c.list_topics(timeout=args.timeout)
        names = args.topics or sorted(t for t in md.topics if not t.startswith("__"))
        out = []
        for name in names:
            t = md.topics.get(name)
            if t is None or t.error is not None:
                continue        # not created yet: nothing was written to it
            for p in sorted(t.partitions):
                _, high = c.get_watermark_offsets(TopicPartition(name, p), timeout=args.timeout)
                out.append({"topic": name, "partition": p, "high": high})
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    except KafkaException as e:
        sys.exit("watermarks: %s" % e)
    finally:
        c.close()


if __name__ == "__main__":
    main()
