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
# It is done only when f1tel has read everything: the worker's partitions are
# assigned, every partition's stored offset (f1tel.kafka_offsets) has reached
# the broker's own high watermark, and the sinks' backlog is empty.  If that
# takes longer than --timeout, it says what is missing and exits 1.
#
#   test/demo.sh [--speed X|max] [--session 9189|9606] [--keep|--no-keep] [--timeout S]
#                [--dash-port N]
#     --speed    replay pace, X times real time (default 60: the race in ~2 min)
#     --session  which recorded race (default 9189, Las Vegas 2023)
#     --keep     wait for Enter before cleaning up (the default on a terminal)
#     --timeout  seconds to wait for f1tel to catch up once the feed is done (300)
#     --openf1 KEY  a session from the OpenF1 API instead of the recordings
#                (downloaded by f1tel-feed --openf1; needs the internet)
#     --openf1-url URL  the API (default https://api.openf1.org/v1)
#     --dash-port N  the dashboard's port (default 8080, or a free one when taken)
#
# The dashboard (f1tel-dash) starts before the race: open the URL it prints
# and watch the race play.
#
# The recorded sessions ship in test/data/openf1 (F1TEL_DATA overrides).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speed=60
session=9189
keep=0
timeout=300
openf1=
openf1_url=https://api.openf1.org/v1
dash_port=
[ -t 0 ] && keep=1
while [ $# -gt 0 ]; do
	case "$1" in
		--speed) speed=$2; shift 2 ;;
		--session) session=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		--no-keep) keep=0; shift ;;
		--timeout) timeout=$2; shift 2 ;;
		--openf1) openf1=$2; session=$2; shift 2 ;;
		--openf1-url) openf1_url=$2; shift 2 ;;
		--dash-port) dash_port=$2; shift 2 ;;
		*) echo "usage: $0 [--speed X|max] [--session KEY | --openf1 KEY [--openf1-url URL]] [--keep|--no-keep] [--timeout S] [--dash-port N]" >&2; exit 2 ;;
	esac
done
case "$session" in
	''|*[!0-9]*) echo "a session is a number (a session_key of OpenF1), not \"$session\"" >&2; exit 2 ;;
esac
data=${F1TEL_DATA:-$root/test/data/openf1}
if [ -z "$openf1" ]; then
	[ -d "$data/$session" ] || { echo "recorded session $data/$session not found (F1TEL_DATA=$data)" >&2; exit 2; }
	data=$(cd "$data" && pwd)
fi

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
psql_demo() { run_pg "psql -X -q -h '$dir' -p $pgport -U postgres -d postgres $(printf '%q ' "$@")"; }

broker_pid=
bq_pid=
feed_pid=
dash_pid=
cleanup() {
	echo
	echo "==== cleaning up"
	[ -n "$feed_pid" ] && kill "$feed_pid" 2>/dev/null || true
	[ -n "$dash_pid" ] && kill "$dash_pid" 2>/dev/null || true
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
run_pg "pg_ctl -D '$dir/data' -l '$dir/postgresql.log' -w start >/dev/null" || {
	echo "PostgreSQL did not start; the end of its log ($dir/postgresql.log):" >&2
	tail -n 30 "$dir/postgresql.log" >&2
	exit 1
}
psql_demo -c 'CREATE EXTENSION f1tel'

# the dashboard, on 8080 unless taken (or --dash-port); it reads as f1tel_reader
if [ -z "$dash_port" ]; then
	dash_port=8080
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 8080))' 2>/dev/null || dash_port=0
fi
f1tel-dash --listen "127.0.0.1:$dash_port" --db "host=$dir port=$pgport user=postgres dbname=postgres" \
	2>"$dir/dash.log" &
dash_pid=$!
dash_url=
for _ in $(seq 1 100); do
	dash_url=$(sed -n 's/^f1tel-dash: listening on \(http[^ ]*\)$/\1/p' "$dir/dash.log" 2>/dev/null)
	[ -n "$dash_url" ] && break
	sleep 0.1
done
[ -n "$dash_url" ] || { echo "f1tel-dash did not start:" >&2; cat "$dir/dash.log" >&2; exit 1; }
echo "==== the dashboard: ${dash_url}?session=$session  (open it now: the race plays live)"

if [ -n "$openf1" ]; then
	echo "==== downloading session $session from $openf1_url, then replaying it at --speed $speed"
	f1tel-feed --brokers "127.0.0.1:$kport" --speed "$speed" --quiet --openf1 "$openf1_url" \
		--session "$session" 2>"$dir/feed.log" &
else
	echo "==== replaying session $session at --speed $speed"
	f1tel-feed --brokers "127.0.0.1:$kport" --speed "$speed" --quiet "$data/$session" 2>"$dir/feed.log" &
fi
feed_pid=$!

status_sql="SELECT format('laps %s  positions %s  drivers %s  race_control %s  car_data %s  location %s  dead letters %s  lag %s',
  (SELECT count(*) FROM f1tel.laps), (SELECT count(*) FROM f1tel.position),
  (SELECT count(*) FROM f1tel.drivers), (SELECT count(*) FROM f1tel.race_control),
  (SELECT count(*) FROM f1tel.car_data), (SELECT count(*) FROM f1tel.location),
  (SELECT count(*) FROM f1tel.dead_letters), (SELECT coalesce(sum(lag), 0) FROM f1tel.ingest_status))
  || format('  | driver_laps %s  queued for the sinks %s',
  (SELECT count(*) FROM f1tel.driver_laps), (SELECT coalesce(sum(pending), 0) FROM f1tel.change_backlog))"
# progress: one line rewritten in place on a terminal, a line every 10 s otherwise
last_progress=-10
progress() {
	if [ -t 1 ]; then
		printf '\r%s ' "$(psql_demo -At -c "$status_sql")"
	elif [ $((SECONDS - last_progress)) -ge 10 ]; then
		last_progress=$SECONDS
		psql_demo -At -c "$status_sql"
	fi
}
while kill -0 "$feed_pid" 2>/dev/null; do
	progress
	sleep 2
done
feed_status=0
wait "$feed_pid" || feed_status=$?
feed_pid=
[ $feed_status = 0 ] || { echo; echo "f1tel-feed failed:"; cat "$dir/feed.log"; exit 1; }
# Wait until f1tel has read everything the broker holds and the sinks have
# pushed it: the broker's high watermarks, asked of the broker itself, against
# the offsets f1tel stored with the rows.  An empty ingest_status is not
# "caught up": every partition that holds data must have its row.
caught_up_sql="WITH hw AS (
    SELECT w.topic, w.partition, w.high
      FROM jsonb_to_recordset(:'hw'::jsonb) AS w(topic text, \"partition\" int, high bigint)
     WHERE w.high > 0
       AND w.topic IN (SELECT setting FROM pg_settings WHERE name LIKE 'f1tel.topic\\_%')),
  missing AS (
    SELECT hw.topic || '[' || hw.partition || ']: ' ||
           coalesce('stored ' || o.next_offset, CASE WHEN o.topic IS NULL THEN 'not assigned' ELSE 'nothing stored' END) ||
           ', broker ' || hw.high AS what
      FROM hw LEFT JOIN f1tel.kafka_offsets o
        ON o.group_id = current_setting('f1tel.group_id') AND o.topic = hw.topic AND o.partition = hw.partition
     WHERE o.next_offset IS DISTINCT FROM hw.high
    UNION ALL
    SELECT 'sink subscriber ' || s || ': not subscribed yet'
      FROM unnest(ARRAY['bigquery', 'kafka']) s
     WHERE s NOT IN (SELECT subscriber FROM f1tel.change_backlog)
    UNION ALL
    SELECT 'sink subscriber ' || subscriber || ': ' || pending || ' changes pending'
      FROM f1tel.change_backlog WHERE pending > 0
    UNION ALL
    SELECT 'no partition holds data yet' WHERE NOT EXISTS (SELECT FROM hw))
SELECT what FROM missing ORDER BY what"
echo
echo "==== the feed is done; waiting for f1tel to read up to the broker's high watermarks (at most ${timeout} s)"
deadline=$((SECONDS + timeout))
while :; do
	hw=$(/usr/bin/python3 "$root/test/tools/watermarks.py" --brokers "127.0.0.1:$kport")
	missing=$(printf '%s\n' "$caught_up_sql" | run_pg "psql -X -q -At -h '$dir' -p $pgport -U postgres -d postgres -v hw=$(printf '%q' "$hw")")
	progress
	[ -z "$missing" ] && break
	if [ $SECONDS -ge $deadline ]; then
		echo
		echo "f1tel did not catch up within ${timeout} s; still missing:" >&2
		printf '  %s\n' "$missing" | head -n 40 >&2
		psql_demo -c "SELECT sink, rows_pushed, last_error FROM f1tel.sink_status" >&2 || true
		echo "---- the end of the server log ($dir/postgresql.log):" >&2
		tail -n 30 "$dir/postgresql.log" >&2 || true
		exit 1
	fi
	sleep 1
done
echo
psql_demo -At -c "$status_sql"
echo "==== f1tel has read every partition up to the broker's high watermark, and the sinks' backlog is empty"

echo "==== what landed"
psql_demo -c "SELECT topic, sum(rows) AS rows, sum(dead_letters) AS dead_letters, sum(lag) AS lag, max(last_batch_at) AS last_batch FROM f1tel.ingest_status GROUP BY topic ORDER BY topic"
psql_demo -c "SELECT driver_number, lap_number, date_start, lap_duration, st_speed FROM f1tel.laps ORDER BY lap_duration NULLS LAST LIMIT 5"
psql_demo -c "SELECT position, name_acronym, team_name, laps_completed, last_lap_duration, best_lap_duration FROM f1tel.leaderboard WHERE session_key = $session ORDER BY position NULLS LAST LIMIT 10"
psql_demo -c "SELECT position, name_acronym, last_lap_duration, sector_1_flag, sector_2_flag, sector_3_flag, compound, tyre_age, pit_stops FROM f1tel.timing WHERE session_key = $session LIMIT 10"

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

echo "==== the dashboard's timing tower (${dash_url}api/state?session=$session):"
/usr/bin/python3 - "${dash_url}api/state?session=$session" <<'PY'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1], timeout=30))
tower = state["tower"]
print("  %d rows: %s" % (len(tower), " ".join("P%s %s" % (r["position"], r["name_acronym"]) for r in tower[:5])))
PY

if [ $keep = 1 ]; then
	cat <<-EOF
	==== the dashboard, while the demo runs: ${dash_url}?session=$session
	==== connect with psql while the demo runs:
	  psql -h $dir -p $pgport -U postgres postgres
	  e.g. SELECT * FROM f1tel.ingest_status;  SELECT * FROM f1tel.leaderboard;
	==== and with Google's bq tool to the local BigQuery server:
	  echo demo > $dir/token; CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$dir/token bq --api http://127.0.0.1:$bqport --project_id=f1tel-demo head f1.driver_laps
	EOF
	read -r -p "Press Enter to stop the demo and clean up... " _ || true
fi

