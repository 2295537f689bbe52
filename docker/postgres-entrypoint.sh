#!/usr/bin/env bash
# docker/postgres-entrypoint.sh — entrypoint of the "postgres" service of
# docker/compose.yaml: PostgreSQL 15 with f1tel preloaded, in the image that
# docker/Dockerfile builds (f1tel installed by make install).
#
# Runs as root.  On the first start it initialises the cluster in $PGDATA
# (/var/lib/f1tel/data, a volume) with initdb.  On every start it writes
# compose.conf (included by postgresql.conf) and pg_hba.conf from the
# environment, creates the database and the extension on a temporary server
# (no TCP, no f1tel worker), stops it, and execs postgres in the foreground
# as the postgres user.  When the real server accepts connections the
# extension exists and the workers start consuming.
#
# Rules:
#   - No default secret: POSTGRES_PASSWORD must be set (it becomes the password
#     of the role postgres when the cluster is initialised; change it later
#     with ALTER ROLE), unless POSTGRES_HOST_AUTH_METHOD=trust is set explicitly.
#   - Logins over TCP: from the container itself and its networks (the compose
#     network, and the host through the published port), with a password.
#   - Only real f1tel settings (DefineCustom*Variable in src/shared/guc.c) are
#     written; test/docker_check.py checks it.  The BigQuery ones only when
#     their variable is set; F1TEL_BIGQUERY_CREDENTIALS is the path of a
#     mounted key file (or metadata, none), never the key itself.
#
# Environment (default): POSTGRES_PASSWORD, POSTGRES_HOST_AUTH_METHOD
# (scram-sha-256 | trust), F1TEL_DATABASE (postgres), F1TEL_BROKERS
# (redpanda:9092), F1TEL_BIGQUERY_PROJECT, F1TEL_BIGQUERY_DATASET,
# F1TEL_BIGQUERY_LOCATION, F1TEL_BIGQUERY_ENDPOINT, F1TEL_BIGQUERY_CREDENTIALS.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
PGDATA=/var/lib/f1tel/data
database=${F1TEL_DATABASE:-postgres}
brokers=${F1TEL_BROKERS:-redpanda:9092}
auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

die() { echo "postgres-entrypoint: $*" >&2; exit 1; }
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
# setting NAME VALUE: a postgresql.conf line, the value quoted
setting() { printf "%s = '%s'\n" "$1" "${2//\'/\'\'}"; }
# optional NAME VARIABLE: the setting only when the variable is set
optional() { [ -z "${!2:-}" ] || setting "$1" "${!2}"; }

case $auth in
	scram-sha-256)
		[ -n "${POSTGRES_PASSWORD:-}" ] ||
			die "POSTGRES_PASSWORD is not set.  Set it (in your environment or in docker/.env), or set POSTGRES_HOST_AUTH_METHOD=trust to allow every login without a password." ;;
	trust) echo "postgres-entrypoint: POSTGRES_HOST_AUTH_METHOD=trust: every login is allowed without a password" >&2 ;;
	*) die "POSTGRES_HOST_AUTH_METHOD must be scram-sha-256 or trust, not \"$auth\"" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (it starts postgres as the postgres user)"
credentials=${F1TEL_BIGQUERY_CREDENTIALS:-}
case $credentials in
	"" | metadata | none) ;;
	/*) as_pg test -r "$credentials" ||
		die "F1TEL_BIGQUERY_CREDENTIALS: $credentials is not a file the postgres user can read (mount the key file there)" ;;
	*) die "F1TEL_BIGQUERY_CREDENTIALS must be the absolute path of a mounted key file, metadata or none" ;;
esac

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "postgres-entrypoint: initialising $PGDATA"
	pwfile=$(mktemp)
	trap 'rm -f "$pwfile"' EXIT
	chown postgres "$pwfile"
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	pwopt=()
	[ -z "${POSTGRES_PASSWORD:-}" ] || pwopt=(--pwfile="$pwfile")
	as_pg "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host="$auth" "${pwopt[@]}" >/dev/null
	rm -f "$pwfile"
	trap - EXIT
	echo "include_if_exists = 'compose.conf'" >>"$PGDATA/postgresql.conf"
fi

# the settings, written again at every start from the environment
{
	echo "# written by docker/postgres-entrypoint.sh at every start: edits are lost"
	setting listen_addresses '*'
	setting shared_preload_libraries f1tel
	setting f1tel.database "$database"
	setting f1tel.brokers "$brokers"
	optional f1tel.bigquery_project F1TEL_BIGQUERY_PROJECT
	optional f1tel.bigquery_dataset F1TEL_BIGQUERY_DATASET
	optional f1tel.bigquery_location F1TEL_BIGQUERY_LOCATION
	optional f1tel.bigquery_endpoint F1TEL_BIGQUERY_ENDPOINT
	optional f1tel.bigquery_credentials F1TEL_BIGQUERY_CREDENTIALS
} >"$PGDATA/compose.conf"
cat >"$PGDATA/pg_hba.conf" <<EOF
# written by docker/postgres-entrypoint.sh at every start: edits are lost
local all all peer
host all all 127.0.0.1/32 $auth
host all all ::1/128 $auth
host all all samenet $auth
EOF
chown postgres:postgres "$PGDATA/compose.conf" "$PGDATA/pg_hba.conf"

# the database and the extension, on a temporary server that runs no f1tel worker
echo "postgres-entrypoint: creating database \"$database\" and the extension f1tel if missing"
trap 'as_pg "$bin/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true' EXIT
as_pg "$bin/pg_ctl" -D "$PGDATA" -s -w -t 120 start -o "-c listen_addresses='' \
	-c f1tel.ingest_workers=0 -c f1tel.enriched_topic='' -c f1tel.bigquery_project=''" >&2
psql_pg() { as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -U postgres "$@"; }
psql_pg -d postgres -v db="$database" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
psql_pg -d "$database" -c 'CREATE EXTENSION IF NOT EXISTS f1tel'
as_pg "$bin/pg_ctl" -D "$PGDATA" -s -m fast -w stop
trap - EXIT

unset POSTGRES_PASSWORD
echo "postgres-entrypoint: starting PostgreSQL 15 with f1tel (brokers $brokers, database $database)"
exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" -D "$PGDATA"
