#!/bin/bash
# test/bench/flink/setup.sh: installs what the benchmark's Flink peer (the
# seed's PyFlink job, job.py here; driven by test/bench/flink_peer.py) needs,
# idempotently, and prints where it is.
#
#   setup.sh [install]   the venv and the jars, then prints KEY=VALUE lines:
#                          python=<venv>/bin/python   (PyFlink 1.20.5)
#                          jars=<dir>                 (connector jars)
#                          pipeline_jars=file:///…;file:///…  (for pipeline.jars)
#   setup.sh sums        rewrite SHA256SUMS from a fresh Maven resolution
#                        (after changing a version in pom.xml)
#   setup.sh lock        rewrite requirements.txt from a fresh pip download
#                        of apache-flink==$FLINK_VERSION (after changing it)
#
# What it fetches, all pinned:
#   - apache-flink 1.20.5 from PyPI and its dependencies, each pinned with its
#     sha256 in requirements.txt (pip --require-hashes), into a venv of
#     Debian's /usr/bin/python3 (3.11) at
#     /var/cache/f1tel/venv-apache-flink-<version> (F1TEL_FLINK_VENV
#     overrides). It is reused while its stamp equals requirements.txt's sum.
#   - the Kafka connector, the JDBC connector (core + postgres dialect) and
#     the PostgreSQL JDBC driver from Maven Central (pom.xml), checked against
#     SHA256SUMS (a jar that differs, or one too many or too few, fails), into
#     /var/cache/f1tel/flink/<version>/jars (F1TEL_FLINK_CACHE overrides
#     /var/cache/f1tel/flink). Offline once cached.
# Needs /usr/bin/python3 with venv (python3-venv), and for a cold fetch mvn
# (Debian's maven) and Java 17 (the job's JVM; java on PATH or JAVA_HOME).
# Progress goes to stderr; only the KEY=VALUE lines go to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLINK_VERSION=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' "$HERE/pom.xml")
REQ="$HERE/requirements.txt"
VENV=${F1TEL_FLINK_VENV:-/var/cache/f1tel/venv-apache-flink-$FLINK_VERSION}
CACHE=${F1TEL_FLINK_CACHE:-/var/cache/f1tel/flink}
JARS="$CACHE/$FLINK_VERSION/jars"
PY=/usr/bin/python3

die() { echo "flink/setup.sh: $*" >&2; exit 1; }
say() { echo "flink/setup.sh: $*" >&2; }

# --- the jars ---------------------------------------------------------------

# Checks directory $1 holds exactly the jars of SHA256SUMS, each with its sum.
verify_jars()
{
	local dir=$1
	[ -d "$dir" ] || return 1
	(cd "$dir" && sha256sum --quiet --strict -c "$HERE/SHA256SUMS" >/dev/null 2>&1) || return 1
	diff <(awk '{print $2}' "$HERE/SHA256SUMS" | sort) \
		<(find "$dir" -maxdepth 1 -name '*.jar' -printf '%f\n' | sort) >/dev/null
}

# Resolves the jars with Maven into directory $1 (in a scratch directory, so
# that nothing is written into the work tree).
resolve_jars()
{
	local out=$1 work
	command -v mvn >/dev/null || die "mvn is needed for the first fetch (apt-get install maven)"
	work=$(mktemp -d)
	cp "$HERE/pom.xml" "$work/pom.xml"
	if ! mvn -B -q -f "$work/pom.xml" -Dflink.cache="$work/out" package >"$work/mvn.log" 2>&1; then
		cat "$work/mvn.log" >&2
		rm -rf "$work"
		die "mvn could not resolve the connector jars"
	fi
	rm -rf "$out"
	mkdir -p "$(dirname "$out")"
	mv "$work/out/jars" "$out"
	rm -rf "$work"
}

fetch_jars()
{
	if verify_jars "$JARS"; then
		return 0
	fi
	[ -f "$HERE/SHA256SUMS" ] || die "no SHA256SUMS: run setup.sh sums"
	local tmp="$JARS.tmp.$$"
	say "fetching the connector jars into $JARS"
	resolve_jars "$tmp"
	if ! verify_jars "$tmp"; then
		(cd "$tmp" && sha256sum -c "$HERE/SHA256SUMS" >&2) || true
		rm -rf "$tmp"
		die "the connector jars do not match $HERE/SHA256SUMS"
	fi
	rm -rf "$JARS"
	mv "$tmp" "$JARS"
	chmod -R a+rX "$CACHE"
}

cmd_sums()
{
	local tmp
	tmp=$(mktemp -d)
	resolve_jars "$tmp/jars"
	(cd "$tmp/jars" && sha256sum -- *.jar) >"$HERE/SHA256SUMS"
	rm -rf "$tmp"
	say "wrote $HERE/SHA256SUMS ($(wc -l <"$HERE/SHA256SUMS") jars)"
}

# --- the venv ---------------------------------------------------------------

req_sum() { sha256sum "$REQ" | awk '{print $1}'; }

venv_ok()
{
	[ -x "$VENV/bin/python" ] && [ -f "$VENV/.f1tel-stamp" ] &&
		[ "$(cat "$VENV/.f1tel-stamp")" = "$(req_sum)" ] &&
		"$VENV/bin/python" -c 'import pyflink.table' 2>/dev/null
}

install_venv()
{
	venv_ok && return 0
	[ -x "$PY" ] || die "$PY is missing"
	"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
		die "requirements.txt is a lock for CPython 3.11; $PY is $("$PY" -V 2>&1)"
	say "installing apache-flink==$FLINK_VERSION into $VENV (~1 GB, a few minutes)"
	rm -rf "$VENV"
	mkdir -p "$(dirname "$VENV")"
	"$PY" -m venv "$VENV"
	local boot
	boot=$(mktemp)
	grep -E '^(pip|wheel|setuptools)==' "$REQ" >"$boot"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
		--require-hashes -r "$boot" >&2
	rm -f "$boot"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
		--no-build-isolation --require-hashes -r "$REQ" >&2
	"$VENV/bin/python" -c 'import pyflink.table' || die "pyflink does not import in $VENV"
	req_sum >"$VENV/.f1tel-stamp"
	chmod -R a+rX "$VENV"
}

cmd_lock()
{
	local work
	work=$(mktemp -d)
	"$PY" -m venv "$work/venv"
	"$work/venv/bin/pip" download -q --disable-pip-version-check -d "$work/dl" \
		"apache-flink==$FLINK_VERSION" pip==24.3.1 wheel==0.45.1 >&2
	{
		sed -n '1,/^# Regenerate/p' "$REQ"
		"$PY" - "$work/dl" <<'EOF'
import hashlib, os, re, sys
d = sys.argv[1]
for fn in sorted(os.listdir(d)):
    if fn.endswith('.whl'):
        n, v = fn.split('-')[:2]
    else:
        n, v = fn[:-len('.tar.gz')].rsplit('-', 1)
    h = hashlib.sha256(open(os.path.join(d, fn), 'rb').read()).hexdigest()
    print(f"{re.sub(r'[-_.]+', '-', n).lower()}=={v} --hash=sha256:{h}")
EOF
	} >"$REQ.new"
	mv "$REQ.new" "$REQ"
	rm -rf "$work"
	say "wrote $REQ"
}

# --- main -------------------------------------------------------------------

cmd_install()
{
	command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] ||
		die "Java 17 is needed (apt-get install openjdk-17-jre-headless)"
	fetch_jars
	install_venv
	echo "python=$VENV/bin/python"
	echo "jars=$JARS"
	local list="" j
	for j in "$JARS"/*.jar; do
		list="${list:+$list;}file://$j"
	done
	echo "pipeline_jars=$list"
}

case "${1:-install}" in
install) cmd_install ;;
sums) cmd_sums ;;
lock) cmd_lock ;;
*) die "usage: setup.sh [install|sums|lock]" ;;
esac
