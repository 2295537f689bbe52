#!/usr/bin/env bash
# test/demo.sh — the f1tel demo: a recorded Grand Prix streamed through a Kafka
# broker into PostgreSQL, on a throwaway cluster.
#
# Installs what is missing (apt-get; sudo unless root), builds and installs
# f1tel, starts a PostgreSQL 15 cluster in a temporary directory (as the
# postgres user when run as root), f1tel-broker, the local BigQuery server and
# f1tel-feed, shows the progress and what landed (in PostgreSQL and in
# "BigQuery"), prints how to connect with psql, and cleans everything up on
# exit.
#
#   test/demo.sh [--speed X|max] [--session 9189|9606] [--keep]
#     --speed    replay pace, X times real time (default 60: the race in ~2 min)
#     --session  which recorded race (default 9189, Las Vegas 2023)
#     --keep     wait for Enter before cleaning up (the default on a terminal)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speed=60
session=9189
keep=0
[ -t 0 ] && keep=1
while [ $# -gt 0 ]; do
	case "$1" in
		--speed) speed=$2; shift 2 ;;
		--session) session=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		--no-keep) keep=0; shift ;;
		*) echo "usage: $0 [--speed X|max] [--session KEY] [--keep|--no-keep]" >&2; exit 2 ;;
	esac
done
data=${F1TEL_DATA:-$root/../shared/data/openf1}
[ -d "$data/$session" ] || { echo "recorded session $data/$session not found (set F1TEL_DATA)" >&2; exit 2; }
data=$(cd "$data" && pwd)

cd "$root"
. "$root/test/install-deps.sh"
echo "==== building and installing f1tel"
make -s -j"$(nproc)" >/dev/null
$SUDO make -s install >/dev/null

# free TCP ports for PostgreSQL and the broker
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pgport=$(free_port)
kport=$(free_port)
dir=$(mktemp -d /tmp/f1tel-demo.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$dir"
	as_pg=(su postgres -s /bin/bash -c)
else
	as_pg=(bash -c)
fi
run_pg() { "${as_pg[@]}" "PATH=/usr/lib/postgresql/15/bin:\$PATH; $*"; }
psql_demo() { run_pg "psql -X -q -h '$dir' -p $pgport -d postgres $(printf '%q ' "$@")"; }

broker_pid=
bq_pid=
feed_pid=
cleanup() {
	echo
	echo "==== cleaning up"
	[ -n "$feed_pid" ] && kill "$feed_pid" 2>/dev/null || true
	run_pg "pg_ctl -D '$dir/data' -m fast stop" >/dev/null 2>&1 || true
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
	[ -n "$bq_pid" ] && kill "$bq_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==== starting f1tel-broker on 127.0.0.1:$kport"
f1tel-broker --port "$kport" --partitions 64 >"$dir/broker.out" 2>"$dir/broker.log" &
broker_pid=$!
for _ in $(seq 1 100); do grep -q ready "$dir/broker.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$dir/broker.out" || { cat "$dir/broker.log"; exit 1; }

bqport=$(free_port)
echo "==== starting the local BigQuery server on 127.0.0.1:$bqport (test/bigquery/server.py)"
/usr/bin/python3 "$root/test/bigquery/server.py" --port "$bqport" --quiet >"$dir/bq.out" 2>"$dir/bq.log" &
bq_pid=$!
for _ in $(seq 1 100); do grep -q ready "$dir/bq.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$dir/bq.out" || { cat "$dir/bq.log"; exit 1; }

echo "==== starting PostgreSQL 15 in $dir/data (port $pgport)"
run_pg "initdb -D '$dir/data' -A trust -U postgres >/dev/null"
cat >>"$dir/data/postgresql.conf" <<EOF
port = $pgport
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.brokers = '127.0.0.1:$kport'
# the embedded broker does not wake an idle fetch: poll often
f1tel.kafka_config = 'fetch.wait.max.ms=10, session.timeout.ms=6000, heartbeat.interval.ms=1000'
# the sink pushes to the local BigQuery server and to the upsert topic f1-laps-enriched
f1tel.bigquery_project = 'f1tel-demo'
f1tel.bigquery_dataset = 'f1'
f1tel.bigquery_endpoint = 'http://127.0.0.1:$bqport'
f1tel.bigquery_credentials = 'none'
EOF
run_pg "pg_ctl -D '$dir/data' -l '$dir/postgresql.log' -w start >/dev/null"
psql_demo -c 'CREATE EXTENSION f1tel'

echo "==== replaying session $session at --speed $speed"
f1tel-feed --brokers "127.0.0.1:$kport" --speed "$speed" --quiet "$data/$session" 2>"$dir/feed.log" &
feed_pid=$!

status_sql="SELECT format('laps %s  positions %s  drivers %s  race_control %s  car_data %s  location %s  dead letters %s  lag %s',
  (SELECT count(*) FROM f1tel.laps), (SELECT count(*) FROM f1tel.position),
  (SELECT count(*) FROM f1tel.drivers), (SELECT count(*) FROM f1tel.race_control),
  (SELECT count(*) FROM f1tel.car_data), (SELECT count(*) FROM f1tel.location),
  (SELECT count(*) FROM f1tel.dead_letters), (SELECT coalesce(sum(lag), 0) FROM f1tel.ingest_status))
  || format('  | driver_laps %s  queued for the sinks %s',
  (SELECT count(*) FROM f1tel.driver_laps), (SELECT coalesce(sum(pending), 0) FROM f1tel.change_backlog))"
while kill -0 "$feed_pid" 2>/dev/null; do
	printf '\r%s ' "$(psql_demo -At -c "$status_sql")"
	sleep 2
done
feed_status=0
wait "$feed_pid" || feed_status=$?
feed_pid=
[ $feed_status = 0 ] || { echo; echo "f1tel-feed failed:"; cat "$dir/feed.log"; exit 1; }
# let the worker catch up
for _ in $(seq 1 120); do
	printf '\r%s ' "$(psql_demo -At -c "$status_sql")"
	[ "$(psql_demo -At -c 'SELECT coalesce(sum(lag), 0) + coalesce((SELECT sum(pending) FROM f1tel.change_backlog), 0) FROM f1tel.ingest_status')" = 0 ] && break
	sleep 1
done
echo

echo "==== what landed"
psql_demo -c "SELECT topic, sum(rows) AS rows, sum(dead_letters) AS dead_letters, sum(lag) AS lag, max(last_batch_at) AS last_batch FROM f1tel.ingest_status GROUP BY topic ORDER BY topic"
psql_demo -c "SELECT driver_number, lap_number, date_start, lap_duration, st_speed FROM f1tel.laps ORDER BY lap_duration NULLS LAST LIMIT 5"
psql_demo -c "SELECT position, name_acronym, team_name, laps_completed, last_lap_duration, best_lap_duration FROM f1tel.leaderboard WHERE session_key = $session ORDER BY position NULLS LAST LIMIT 10"

psql_demo -c "SELECT sink, rows_pushed, requests, retries, dead_letters, last_push_at, last_error FROM f1tel.sink_status ORDER BY sink"
echo "==== in \"BigQuery\" (the local server), the seed's dashboard view driver_laps_latest_session:"
/usr/bin/python3 - "$bqport" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
def query(sql):
    req = urllib.request.Request("http://127.0.0.1:%s/bigquery/v2/projects/f1tel-demo/queries" % port,
        data=json.dumps({"query": sql, "useLegacySql": False}).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=30))
for t in ("driver_laps", "driver_laps_latest", "driver_laps_latest_session", "race_control"):
    r = query("SELECT COUNT(*) FROM `f1tel-demo.f1.%s`" % t)
    print("  %-28s %s rows" % (t, r["rows"][0]["f"][0]["v"]))
PY

cat <<EOF
==== connect with psql while the demo runs:
  psql -h $dir -p $pgport -U postgres postgres
  e.g. SELECT * FROM f1tel.ingest_status;  SELECT * FROM f1tel.leaderboard;
==== and with Google's bq tool to the local BigQuery server:
  echo demo > $dir/token; CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$dir/token bq --api http://127.0.0.1:$bqport --project_id=f1tel-demo head f1.driver_laps
EOF
if [ $keep = 1 ]; then
	read -r -p "Press Enter to stop the demo and clean up... " _ || true
fi
