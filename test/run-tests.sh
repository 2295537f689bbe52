#!/usr/bin/env bash
# test/run-tests.sh — the whole f1tel test suite, from a fresh Debian 12 machine.
#
# Installs the Debian packages it needs (apt-get; with sudo unless root) and
# google-cloud-bigquery (pinned, in a venv), builds with -Wall -Wextra
# -Werror, installs the extension and the two programs, then runs the
# plain-C unit tests, the MQTT client's test (on a Mosquitto of its own), a
# short fuzzing run of the decoder, the local BigQuery server's unit tests,
# the pg_regress tests and the TAP tests
# (PostgreSQL::Test::Cluster + f1tel-broker + f1tel-feed).  Here
# google-cloud-bigquery is required: test/t/030 fails without it rather than
# skipping (F1TEL_REQUIRE_BQ_CLIENTS=1).  Google's `bq` CLI is used where it
# is installed (no registry this machine reaches has it); the run ends with a
# warning when it is not (F1TEL_REQUIRE_BQ_CLI=1 makes that a failure).
#
# PostgreSQL refuses to run as root: as root, the server tests run as the
# "postgres" user in a copy of the tree.  The recorded sessions are read from
# $F1TEL_DATA (default: test/data/openf1, which ships with the repository).
#
#   test/run-tests.sh            everything
#   test/run-tests.sh --no-tap   skip the TAP tests (a quick check)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export F1TEL_DATA=${F1TEL_DATA:-$root/test/data/openf1}
F1TEL_DATA=$(cd "$F1TEL_DATA" && pwd)
tap=1
[ "${1:-}" = "--no-tap" ] && tap=0

. "$root/test/install-deps.sh"
f1tel_install_bq_python
export F1TEL_REQUIRE_BQ_CLIENTS=1

# each step's heading says how long the run has taken so far (where CI's minutes go)
step() { printf '\n==== %s (at %d s) ====\n' "$*" "$SECONDS"; }

step "build"
make -j"$(nproc)"
step "install"
$SUDO make install

step "unit tests (plain C, no server)"
make unit

# f1tel-feed's MQTT client against a TLS + password Mosquitto the test starts
step "the MQTT client's test (make unit-mqtt)"
make unit-mqtt

# libFuzzer on the OpenF1 decoder, from the seeds in test/unit/corpus
step "fuzzing the decoder, alone and against json-c (make fuzz, 2 x 20 s)"
make fuzz FUZZ_TIME=20

step "the local BigQuery server's unit tests (test/bigquery/test_server.py)"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/bigquery/test_server.py

# the local OpenF1 (REST, tokens, simulated live clock) and its MQTT feed
# through a TLS Mosquitto of test/openf1/mosquitto.sh
step "the local OpenF1 server's self-test (test/openf1/test_openf1_server.py)"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/openf1/test_openf1_server.py

# docker/ cannot run here (no Docker engine): check what can be checked
step "docker files (test/docker_check.py)"
/usr/bin/python3 test/docker_check.py

# The README's demo, run as a user would, non-interactively at --speed max;
# test/demo_check.py checks what it prints against the recorded files.  With
# F1TEL_TEST_SUDO_USER (a user with sudo; .ci/run makes one), the second
# session runs as that user, the way a non-root user runs the demo.
step "the demo (test/demo.sh via test/demo_check.py)"
/usr/bin/python3 test/demo_check.py --session 9189
# the demo's --openf1 (a session from the API), from the local OpenF1
/usr/bin/python3 test/demo_check.py --session 9189 --openf1-local
if [ -n "${F1TEL_TEST_SUDO_USER:-}" ] && [ "$(id -u)" = 0 ]; then
	/usr/bin/python3 test/demo_check.py --session 9606 --as-user "$F1TEL_TEST_SUDO_USER"
else
	/usr/bin/python3 test/demo_check.py --session 9606
fi

# installcheck ENV MAKEARGS: make installcheck with the environment ENV
# (name=value words), as postgres in a copy of the tree when run as root;
# on failure prints the diffs and the TAP logs' last lines and exits
installcheck() {
	local env=$1 args=$2 status=0
	if [ "$(id -u)" = 0 ]; then
		# run as postgres, in a copy of the tree that postgres owns
		local work data
		work=$(mktemp -d /tmp/f1tel-check.XXXXXX)
		cp -a "$root/." "$work/"
		chown -R postgres: "$work"
		# data inside the tree: the copy's own (this tree may be unreadable to postgres)
		data=$F1TEL_DATA
		case "$data" in "$root"/*) data="$work/${data#"$root"/}" ;; esac
		su postgres -s /bin/bash -c "cd '$work' && F1TEL_DATA='$data' F1TEL_REQUIRE_BQ_CLIENTS=1 \
			F1TEL_REQUIRE_BQ_CLI='${F1TEL_REQUIRE_BQ_CLI:-}' \
			F1TEL_BQ_PYTHON='$F1TEL_BQ_PYTHON' $env make installcheck $args" || status=$?
		if [ $status != 0 ]; then
			cat "$work/regression.diffs" 2>/dev/null || true
			for f in "$work"/tmp_check/log/regress_log_*; do
				[ -f "$f" ] && { echo "---- $f (last lines)"; tail -n 40 "$f"; }
			done
			echo "test files kept in $work"
			exit $status
		fi
		rm -rf "$work"
	else
		eval env "$env" make installcheck "$args" || status=$?
		if [ $status != 0 ]; then
			cat regression.diffs 2>/dev/null || true
			exit $status
		fi
	fi
}

step "the dashboard's browser driver (test/dash/setup.sh: playwright-core, pinned)"
test/dash/setup.sh

# Two TAP files at a time (F1TEL_TEST_JOBS, default 2): most of a test's time
# is a replay at a set speed or a wait for a broker, and each test has nodes,
# brokers, servers and ports of its own (PostgreSQL::Test::Cluster reserves
# the ports).  Against a cluster of the user's (F1TEL_TEST_BROKERS) the tests
# share its topics: one at a time.
jobs=${F1TEL_TEST_JOBS:-2}
[ -n "${F1TEL_TEST_BROKERS:-}" ] && jobs=1
prove_flags="PROVE_FLAGS='--timer -j$jobs'"

step "pg_regress and TAP tests (broker: the embedded f1tel-broker; $jobs at a time)"
if [ $tap = 0 ]; then
	installcheck "" "TAP_TESTS="
else
	installcheck "F1TEL_TEST_KAFKA=mock" "PROVE_TESTS='\$(ALL_TAP_ORDERED)' $prove_flags"
fi

# The tests of the streams again, on a real Apache Kafka (test/kafka/): the
# list is KAFKA_TAP_TESTS in the Makefile, the one home of which tests run on
# both brokers (README: Tests).
if [ $tap = 1 ]; then
	step "TAP tests on Apache Kafka $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' test/kafka/pom.xml) (test/kafka/kafka.sh)"
	f1tel_install_kafka
	installcheck "F1TEL_TEST_KAFKA=kafka" "REGRESS= PROVE_TESTS='\$(KAFKA_TAP_ORDERED)' $prove_flags"
fi

step "done"
if ! command -v bq >/dev/null 2>&1; then
	echo "WARNING: Google's bq CLI is not installed: test/t/030's bq checks did not run (google-cloud-bigquery's did)" >&2
fi
