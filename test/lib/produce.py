#!/usr/bin/python3
"""test/lib/produce.py — produce hand-written messages to Kafka for the tests.

Reads lines "TOPIC<TAB>KEY<TAB>HEXPAYLOAD" from standard input (an empty
HEXPAYLOAD field is an empty value, "-" a null value) and produces each one
with Debian's python3-confluent-kafka, then waits for every delivery report.
Exits 1 if any delivery failed.  Usage: produce.py BROKERS < lines
"""
import sys

from confluent_kafka import Producer


def main():
    failed = []
    p = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True,
                  "linger.ms": 5})

    def report(err, msg):
        if err is not None:
            failed.append(str(err))

    for line in sys.stdin:
        topic, key, hexpayload = line.rstrip("\n").split("\t")
        value = None if hexpayload == "-" else bytes.fromhex(hexpayload)
        p.produce(topic, key=key.encode(), value=value, on_delivery=report)
        p.poll(0)
    left = p.flush(30)
    if failed or left:
        print("delivery failed: %s (%d undelivered)" % (failed, left), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
