#!/bin/bash
# test/openf1/mosquitto.sh — a local, TLS-only Mosquitto for the OpenF1 feed tests.
#
#   test/openf1/mosquitto.sh start DIR PORT    (re)starts it on 127.0.0.1:PORT
#   test/openf1/mosquitto.sh stop DIR          stops it (no error if it is not running)
#
# In DIR: ca.crt/ca.key (an openssl-made CA), server.crt/server.key (for
# 127.0.0.1, subjectAltName IP:127.0.0.1, signed by that CA), mosquitto.conf,
# passwd (Mosquitto's password file: created empty; the local OpenF1 server,
# openf1_server.py --mosquitto-passwd DIR/passwd, fills it and SIGHUPs the
# broker), mosquitto.pid and mosquitto.log.
#
# Rules a reader must know: TLS only (no plain listener), allow_anonymous
# false, password auth; the broker runs as the calling user (`user` in the
# config: else Mosquitto started as root drops to user "mosquitto"), so it
# works for an unprivileged user such as postgres; certificates and the
# password file are made once and kept, so a restart on the same DIR and PORT
# finds the same CA and the same users.  Clients use DIR/ca.crt.
set -euo pipefail

MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

die() {
	echo "mosquitto.sh: $*" >&2
	exit 1
}

# running DIR: true if the pid in DIR/mosquitto.pid is a live mosquitto
running() {
	local pid
	[ -s "$1/mosquitto.pid" ] || return 1
	pid=$(cat "$1/mosquitto.pid")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		grep -q mosquitto "/proc/$pid/comm" 2>/dev/null
}

# listening PORT: true if something listens on 127.0.0.1:PORT (TCP, from
# /proc/net/tcp: no connection, so no "connection failed" line in the log)
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v a="0100007F:$hex" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}

make_certs() {
	local dir=$1
	[ -s "$dir/ca.crt" ] && [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
		-subj "/CN=f1tel test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null ||
		die "openssl: cannot make the CA"
	openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
		-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null ||
		die "openssl: cannot make the server key"
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 3650 -sha256 -extfile "$dir/server.ext" \
		-out "$dir/server.crt" 2>/dev/null || die "openssl: cannot sign the server certificate"
	rm -f "$dir/server.csr" "$dir/server.ext"
	chmod 600 "$dir/ca.key" "$dir/server.key"
}

stop() {
	local dir=$1 pid
	running "$dir" || { rm -f "$dir/mosquitto.pid"; return 0; }
	pid=$(cat "$dir/mosquitto.pid")
	kill "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
	rm -f "$dir/mosquitto.pid"
}

start() {
	local dir=$1 port=$2
	[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number: $port"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	stop "$dir"
	make_certs "$dir"
	[ -e "$dir/passwd" ] || install -m 600 /dev/null "$dir/passwd"
	cat >"$dir/mosquitto.conf" <<EOF
# made by test/openf1/mosquitto.sh
user $(id -un)
pid_file $dir/mosquitto.pid
persistence false
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
per_listener_settings false
allow_anonymous false
password_file $dir/passwd
listener $port 127.0.0.1
cafile $dir/ca.crt
certfile $dir/server.crt
keyfile $dir/server.key
tls_version tlsv1.2
EOF
	: >>"$dir/mosquitto.log"
	# its warnings before it detaches (e.g. "should not be run as root") go to the log too
	"$MOSQUITTO" -c "$dir/mosquitto.conf" -d 2>>"$dir/mosquitto.log" ||
		die "$MOSQUITTO did not start (see $dir/mosquitto.log)"
	for _ in $(seq 1 50); do
		if running "$dir" && listening "$port"; then
			return 0
		fi
		sleep 0.1
	done
	tail -5 "$dir/mosquitto.log" >&2
	die "mosquitto is not listening on 127.0.0.1:$port"
}

case "${1:-}" in
start)
	[ $# -eq 3 ] || die "usage: $0 start DIR PORT"
	start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || die "usage: $0 stop DIR"
	stop "$2"
	;;
*)
	die "usage: $0 start DIR PORT | stop DIR"
	;;
esac
