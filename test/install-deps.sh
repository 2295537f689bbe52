# test/install-deps.sh — sourced by test/run-tests.sh and test/demo.sh:
# installs the Debian 12 packages f1tel needs to build, test and run, if any
# is missing.  Sets SUDO ("" as root, "sudo" otherwise).  Defines
# f1tel_install_bq_python, which test/run-tests.sh calls (the demo needs it
# not): Google's Python client for BigQuery, pinned, in a venv kept between
# runs; exports F1TEL_BQ_PYTHON, its python.
#
# clang and libclang-rt-14-dev are `make fuzz`'s (libFuzzer and the
# sanitizers' runtime); Google's `bq` CLI comes with the machine's image
# (google-cloud-cli), not from here: no registry this project reaches has it.

F1TEL_PACKAGES="build-essential pkg-config clang libclang-rt-14-dev \
postgresql-15 postgresql-server-dev-15 libipc-run-perl \
librdkafka-dev libjson-c-dev libcurl4-openssl-dev libssl-dev zlib1g-dev \
kcat python3 python3-venv python3-confluent-kafka python3-psycopg2 python3-yaml shellcheck sudo git \
mosquitto mosquitto-clients libmosquitto-dev python3-paho-mqtt \
libmicrohttpd-dev libpq-dev chromium"

if [ "$(id -u)" = 0 ]; then
	SUDO=
else
	SUDO=sudo
fi

# f1tel_apt_install PACKAGE...: installs those of the Debian packages that
# are missing (none missing: no apt-get at all)
f1tel_apt_install() {
	local p missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	echo "installing:$missing"
	$SUDO apt-get update -qq
	# installing postgresql-15 may start a cluster on 5432; f1tel's tests and
	# demo use clusters of their own on other ports
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null
}
# shellcheck disable=SC2086
f1tel_apt_install $F1TEL_PACKAGES
# npm: the dashboard's chart library at build time, playwright-core for its
# browser tests.  Any Node.js with npm will do (a NodeSource nodejs carries
# its own npm, which Debian's npm package would conflict with).
command -v npm >/dev/null 2>&1 || f1tel_apt_install nodejs npm
export PATH="/usr/lib/postgresql/15/bin:$PATH"

# google-cloud-bigquery from PyPI, for test/t/030_bigquery_server.pl: in a
# venv of Debian's python3 (PEP 668 keeps pip out of the system's), named
# after the version, so a new pin makes a new venv and an old one is reused.
F1TEL_BQ_CLIENT_VERSION=3.47.0
f1tel_install_bq_python() {
	local venv=${F1TEL_BQ_VENV:-/var/cache/f1tel/venv-google-cloud-bigquery-$F1TEL_BQ_CLIENT_VERSION}
	if ! "$venv/bin/python" -c 'import google.cloud.bigquery' 2>/dev/null; then
		echo "installing google-cloud-bigquery==$F1TEL_BQ_CLIENT_VERSION into $venv"
		$SUDO rm -rf "$venv"
		$SUDO mkdir -p "$(dirname "$venv")"
		$SUDO /usr/bin/python3 -m venv "$venv"
		$SUDO "$venv/bin/pip" install -q --disable-pip-version-check \
			"google-cloud-bigquery==$F1TEL_BQ_CLIENT_VERSION"
	fi
	export F1TEL_BQ_PYTHON="$venv/bin/python"
}

# Apache Kafka for the second pass of the TAP tests (F1TEL_TEST_KAFKA=kafka):
# Debian's Java 17 and Maven, then the broker's pinned jars from Maven Central
# into the cache (test/kafka/kafka.sh fetch: checked against
# test/kafka/SHA256SUMS, offline once cached).
f1tel_install_kafka() {
	f1tel_apt_install openjdk-17-jre-headless maven
	$SUDO "$(dirname "${BASH_SOURCE[0]}")/kafka/kafka.sh" fetch >/dev/null
}
