#!/usr/bin/env bash
# test/bench/run.sh — f1tel's benchmark: one command, about 12 minutes on 2 cores.
#
# Needs the installed extension and programs (make install), PostgreSQL 15,
# librdkafka-dev, libjson-c-dev, a C compiler, python3-confluent-kafka and
# python3-psycopg2 (test/install-deps.sh installs them all); perf is used
# when present.  Runs a throwaway cluster (initdb in a temp dir, as the
# postgres user when run as root), f1tel-broker and the local BigQuery server
# on free ports of 127.0.0.1, and removes everything at the end.
#
#   test/bench/run.sh [bench.py options]     e.g. --runs 3 --clones 3 --out FILE
#
# Prints progress lines, then the table of figures, ratios and goals; writes
# the same as JSON to test/bench/results.json (or --out).  See README.md here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${F1TEL_DATA:-$root/test/data/openf1}
[ -d "$data/9189" ] && [ -d "$data/9606" ] || { echo "recorded sessions not found in $data (set F1TEL_DATA)" >&2; exit 1; }
data=$(cd "$data" && pwd)

missing=""
for p in f1tel-broker f1tel-feed pg_config cc pkg-config; do
	command -v "$p" >/dev/null || missing="$missing $p"
done
pkg-config --exists rdkafka json-c || missing="$missing librdkafka-dev/libjson-c-dev"
/usr/bin/python3 -c 'import confluent_kafka, psycopg2' 2>/dev/null || missing="$missing python3-confluent-kafka/python3-psycopg2"
[ -f "$(pg_config --pkglibdir)/f1tel.so" ] || missing="$missing f1tel(make install)"
[ -z "$missing" ] || { echo "missing:$missing (see test/install-deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/f1tel-bench.XXXXXX)
cleanup() { [ -n "${BENCH_KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$tmp"
fi
chmod 755 "$tmp"

cc -O2 -Wall -Wextra -o "$tmp/kcons" "$here/kcons.c" $(pkg-config --cflags --libs rdkafka json-c)

# the whole run is bounded: 20 minutes at most, whatever happens
timeout --signal=TERM --kill-after=30 1200 \
	/usr/bin/python3 "$here/bench.py" --tmp "$tmp" --data "$data" --kcons "$tmp/kcons" "$@"
