# test/install-deps.sh — sourced by test/run-tests.sh and test/demo.sh:
# installs the Debian 12 packages f1tel needs to build, test and run, if any
# is missing.  Sets SUDO ("" as root, "sudo" otherwise).

F1TEL_PACKAGES="build-essential pkg-config clang libclang-rt-14-dev \
postgresql-15 postgresql-server-dev-15 libipc-run-perl \
librdkafka-dev libjson-c-dev libcurl4-openssl-dev libssl-dev zlib1g-dev \
kcat python3 python3-confluent-kafka python3-psycopg2 python3-yaml shellcheck sudo git"

if [ "$(id -u)" = 0 ]; then
	SUDO=
else
	SUDO=sudo
fi

f1tel_missing=
for p in $F1TEL_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		f1tel_missing="$f1tel_missing $p"
done
if [ -n "$f1tel_missing" ]; then
	echo "installing:$f1tel_missing"
	$SUDO apt-get update -qq
	# installing postgresql-15 may start a cluster on 5432; f1tel's tests and
	# demo use clusters of their own on other ports
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$F1TEL_PACKAGES >/dev/null
fi
export PATH="/usr/lib/postgresql/15/bin:$PATH"
