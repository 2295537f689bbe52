#!/usr/bin/python3
"""test/lib/reset_topics.py: empty the f1tel topics of an existing Kafka cluster.

Used by F1telTest.pm when F1TEL_TEST_BROKERS points the TAP tests at a cluster
they do not start themselves: before each test, every topic named on the
command line is deleted (when it exists) and created again, empty, with the
asked partition count and replication factor, so that a test never sees what
an earlier test left behind.  Topics named with a trailing "=compact" get
cleanup.policy=compact.  The cluster is reached over PLAINTEXT.

    reset_topics.py BOOTSTRAP PARTITIONS REPLICATION TOPIC[=compact] ...

Rules a reader must know: this deletes data; it is meant for a cluster kept
for tests.  Deletion is asynchronous in Kafka, so a
create that finds the topic still "marked for deletion" is retried (bounded).
Needs Debian's python3-confluent-kafka (run with /usr/bin/python3).
"""
import sys
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


def wait_all(futures, what, tolerate):
    for topic, fut in futures.items():
        try:
            fut.result()
        except KafkaException as e:
            err = e.args[0]
            if err.name() not in tolerate:
                raise SystemExit(f"reset_topics.py: {what} {topic}: {err.str()}")


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    bootstrap, partitions, replication = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    wanted = {}
    for arg in sys.argv[4:]:
        name, _, policy = arg.partition("=")
        wanted[name] = policy
    admin = AdminClient({"bootstrap.servers": bootstrap})

    existing = set(admin.list_topics(timeout=30).topics)
    doomed = [t for t in wanted if t in existing]
    if doomed:
        wait_all(admin.delete_topics(doomed, operation_timeout=30),
                 "deleting", {"UNKNOWN_TOPIC_OR_PART"})
    deadline = time.time() + 120
    pending = dict(wanted)
    while pending:
        new = [NewTopic(t, partitions, replication,
                        config={"cleanup.policy": "compact"} if p == "compact" else {})
               for t, p in pending.items()]
        retry = {}
        for topic, fut in admin.create_topics(new, operation_timeout=30).items():
            try:
                fut.result()
            except KafkaException as e:
                err = e.args[0]
                # still being deleted: try again
                if err.name() in ("TOPIC_ALREADY_EXISTS", "UNKNOWN_TOPIC_OR_PART") and time.time() < deadline:
                    retry[topic] = pending[topic]
                else:
                    raise SystemExit(f"reset_topics.py: creating {topic}: {err.str()}")
        pending = retry
        if pending:
            time.sleep(1)
    # wait until every partition has a leader
    while time.time() < deadline:
        md = admin.list_topics(timeout=30).topics
        if all(t in md and len(md[t].partitions) == partitions
               and all(p.leader >= 0 for p in md[t].partitions.values()) for t in wanted):
            return
        time.sleep(0.5)
    raise SystemExit("reset_topics.py: topics have no leaders after 120 s")


if __name__ == "__main__":
    main()
