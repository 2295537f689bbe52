#!/bin/bash
# test/kafka/kafka.sh: a real Apache Kafka (KRaft mode) on 127.0.0.1 for
# f1tel's tests, from a pinned release on Maven Central.
#
#   kafka.sh fetch                      resolve the broker's jars (pom.xml) into
#                                       the cache and check them against SHA256SUMS;
#                                       idempotent, offline once cached
#   kafka.sh start --dir DIR [--nodes 1|3] [--port P] [--partitions N]
#                  [--topics a,b,...]   format and start the nodes (combined
#                  [--broker-config k=v,...]  broker+controller, one controller
#                                       quorum), wait until every broker answers,
#                                       create the topics, print the bootstrap
#                                       servers; --broker-config adds properties
#                                       to every node's server.properties
#                  [--security sasl_ssl] --security: TLS, SASL, mTLS and ACLs
#                                       (see "Security mode" below)
#   kafka.sh acl --dir DIR ARGS...      Kafka's AclCommand as the super user of a
#                                       secured cluster (--add/--remove/--list ...)
#   kafka.sh down --dir DIR [--node N]  stop node N (default all), keep its data
#   kafka.sh up --dir DIR [--node N]    start a stopped node again on its ports
#   kafka.sh stop --dir DIR             stop every node, remove the data; the
#                                       nodes' logs stay in DIR/nodeN/server.log
#   kafka.sh kill --dir DIR --node N    kill -9 of node N, keeping its data (up
#                                       starts it again)
#   kafka.sh leaders --dir DIR          one line per partition of every topic
#                                       (internal ones too): topic partition
#                                       leader isr-count replica-count
#   kafka.sh wait-isr --dir DIR [--timeout S]  wait until every partition has
#                                       its full ISR (default 120 s)
#   kafka.sh sums                       rewrite SHA256SUMS from a fresh fetch (after
#                                       changing kafka.version in pom.xml)
#
# Rules a reader must know: the version is the pom's kafka.version; the cache is
# $F1TEL_KAFKA_CACHE, else /var/cache/f1tel/kafka when it exists or can be
# created, else ${XDG_CACHE_HOME:-~/.cache}/f1tel/kafka; it is made readable by
# everyone (the tests run as postgres).  Every node has a bounded heap
# (F1TEL_KAFKA_HEAP, default -Xmx1g, Kafka's own: with 512m a node ran out of
# heap under a replay at full speed).  Topics not in --topics are
# auto-created with --partitions partitions (auto.create.topics.enable).
# Of --topics, those in $COMPACTED (the sink's upsert topic) are created
# with cleanup.policy=compact, as the sink itself would.
# Needs java (17+), mvn for a cold fetch, kcat, python3 and /usr/bin/python3
# with confluent_kafka (python3-confluent-kafka); openssl for --security.
#
# Security mode (start --security sasl_ssl; the files are in DIR/security):
# openssl makes a CA (ca.pem) and certificates with SAN 127.0.0.1/localhost
# for the brokers (CN=broker) and for f1tel (CN=f1tel); each node gets a
# SASL_SSL listener (SCRAM-SHA-512 and PLAIN) on its port, an SSL listener that requires
# a client certificate (mTLS, also the inter-broker listener) and an SSL
# controller listener that requires one too; the principal of a certificate
# is its CN.  Users (SCRAM credentials written at format time, random
# passwords; PLAIN's in the broker's JAAS line): admin, a super user like
# User:broker, and f1tel, which the
# StandardAuthorizer (allow.everyone.if.no.acl.found=false) lets READ and
# DESCRIBE the --topics but f1-laps-enriched, WRITE and DESCRIBE
# f1-laps-enriched, and READ the groups f1tel and f1tel-test.  Client
# settings, librdkafka style (0600): admin.properties, f1tel.properties
# (SASL PLAIN), f1tel-scram.properties (SCRAM-SHA-512, which librdkafka
# before 2.6.1 cannot pass against Kafka 4: librdkafka#4895) and
# f1tel-mtls.properties (client certificate); admin-java.properties is
# admin's for Java tools (SCRAM-SHA-512).  A test cluster: its keys are
# unencrypted, its passwords in its files.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")
HEAP=${F1TEL_KAFKA_HEAP:--Xmx1g -Xms64m}
DEFAULT_TOPICS=f1_laps,f1_position,f1_drivers,f1-race_control,f1_sessions,f1_meetings,f1_car_data,f1_location,f1_intervals,f1_pit,f1_stints,f1_weather,f1_session_result,f1_starting_grid,f1_overtakes,f1_team_radio,f1_championship_drivers,f1_championship_teams,f1-laps-enriched
COMPACTED=f1-laps-enriched

die() { echo "kafka.sh: $*" >&2; exit 1; }

cache_root()
{
	if [ -n "${F1TEL_KAFKA_CACHE:-}" ]; then
		echo "$F1TEL_KAFKA_CACHE"
	elif [ -d /var/cache/f1tel/kafka ] || mkdir -p /var/cache/f1tel/kafka 2>/dev/null; then
		echo /var/cache/f1tel/kafka
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/f1tel/kafka"
	fi
}

LIB="$(cache_root)/$VERSION/lib"

# Checks directory $1 holds exactly the jars of SHA256SUMS, each with its sum.
verify()
{
	local dir=$1
	[ -d "$dir" ] || return 1
	(cd "$dir" && sha256sum --quiet --strict -c "$HERE/SHA256SUMS" >/dev/null 2>&1) || return 1
	diff <(awk '{print $2}' "$HERE/SHA256SUMS" | sort) <(find "$dir" -maxdepth 1 -name '*.jar' -printf '%f\n' | sort) >/dev/null
}

# Resolves the jars with Maven into directory $1 (a copy of the pom runs in a
# scratch directory so that nothing is written into the work tree).
resolve()
{
	local out=$1 work
	work=$(mktemp -d)
	cp "$HERE/pom.xml" "$work/pom.xml"
	if ! mvn -B -q -f "$work/pom.xml" -Dkafka.cache="$work/out" package >"$work/mvn.log" 2>&1; then
		cat "$work/mvn.log" >&2
		rm -rf "$work"
		die "mvn could not resolve Apache Kafka $VERSION"
	fi
	rm -rf "$out"
	mkdir -p "$(dirname "$out")"
	mv "$work/out/lib" "$out"
	rm -rf "$work"
}

cmd_fetch()
{
	if verify "$LIB"; then
		echo "Apache Kafka $VERSION cached in $LIB"
		return 0
	fi
	[ -f "$HERE/SHA256SUMS" ] || die "no SHA256SUMS: run kafka.sh sums"
	local tmp="$LIB.tmp.$$"
	resolve "$tmp"
	if ! verify "$tmp"; then
		rm -rf "$tmp"
		die "the jars of Apache Kafka $VERSION do not match $HERE/SHA256SUMS"
	fi
	rm -rf "$LIB"
	mv "$tmp" "$LIB"
	chmod -R a+rX "$(cache_root)"
	echo "Apache Kafka $VERSION fetched into $LIB"
}

cmd_sums()
{
	local tmp
	tmp=$(mktemp -d)
	resolve "$tmp/lib"
	(cd "$tmp/lib" && sha256sum ./*.jar | sed 's: \./: :' | sort -k2) >"$HERE/SHA256SUMS"
	rm -rf "$tmp"
	echo "wrote $HERE/SHA256SUMS for Apache Kafka $VERSION"
}

java_cp() { echo "$LIB/*"; }

free_port()
{
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# node_start DIR N: starts node N of DIR in the background, records its pid.
node_start()
{
	local dir=$1 n=$2 nd="$1/node$2"
	[ -f "$nd/pid" ] && kill -0 "$(cat "$nd/pid")" 2>/dev/null && return 0
	# setsid: the node outlives this script and ignores the caller's signals
	# shellcheck disable=SC2086
	setsid java $HEAP -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$nd/log4j2.properties" \
		-cp "$(java_cp)" kafka.Kafka "$nd/server.properties" \
		>>"$nd/server.log" 2>&1 </dev/null &
	echo $! >"$nd/pid"
}

# wait_ready DIR N...: waits until each listed node answers a metadata request
# and the cluster reports every broker.
wait_ready()
{
	local dir=$1 nodes total deadline n port
	shift
	total=$(cat "$dir/nodes")
	deadline=$((SECONDS + 120))
	for n in "$@"; do
		port=$(cat "$dir/node$n/port")
		until kcat_as_admin "$dir" -b "127.0.0.1:$port" -L -m 2 2>/dev/null | grep -q "^ $total brokers:"; do
			kill -0 "$(cat "$dir/node$n/pid")" 2>/dev/null || {
				tail -n 30 "$dir/node$n/server.log" >&2
				die "node $n exited during start: see $dir/node$n/server.log"
			}
			[ $SECONDS -lt $deadline ] || die "node $n did not answer within 120 s: see $dir/node$n/server.log"
			sleep 0.5
		done
	done
	nodes=$total
	: "$nodes"
}

# create_topics BOOTSTRAP LIST: a metadata request from a producer handle
# auto-creates each missing topic with num.partitions partitions; waits until
# every topic has a leader for each partition.
create_topics()
{
	local bootstrap=$1 t deadline
	deadline=$((SECONDS + 60))
	for t in ${2//,/ }; do
		until kcat_as_admin "$START_DIR" -b "$bootstrap" -L -t "$t" -m 5 2>/dev/null |
			awk -v t="$t" '$1 == "topic" && $2 == "\""t"\"" && $4 > 0 && $0 ~ /partitions:$/ {ok = 1}
				/leader -1/ {bad = 1} END {exit !(ok && !bad)}'; do
			[ $SECONDS -lt $deadline ] || die "topic $t was not created within 60 s"
			sleep 0.5
		done
	done
}

# create_compacted BOOTSTRAP LIST PARTITIONS RF: creates the topics of LIST
# that are in $COMPACTED with cleanup.policy=compact (an admin request: a
# metadata request would auto-create them with the broker's defaults).
create_compacted()
{
	local t list=''
	for t in ${2//,/ }; do
		case ",$COMPACTED," in *",$t,"*) list+="${list:+,}$t" ;; esac
	done
	[ -n "$list" ] || return 0
	# a secured cluster: as its super user (librdkafka properties, as kcat's -F)
	local props=''
	[ -f "${START_DIR:-}/security/admin.properties" ] && props="$START_DIR/security/admin.properties"
	/usr/bin/python3 - "$1" "$list" "$3" "$4" "$props" <<'PY' || die "could not create the compacted topics $list"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, names, partitions, rf = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
conf = {}
if sys.argv[5]:
    for line in open(sys.argv[5]):
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            conf[k.strip()] = v.strip()
conf["bootstrap.servers"] = bootstrap
admin = AdminClient(conf)
fs = admin.create_topics([NewTopic(t, partitions, rf, config={"cleanup.policy": "compact"})
                          for t in names], request_timeout=30)
for t, f in fs.items():
    f.result(timeout=60)
PY
}

cmd_start()
{
	local dir='' nodes=1 port='' partitions=4 topics=$DEFAULT_TOPICS extra_config='' security=''
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--nodes) nodes=$2; shift 2 ;;
		--port) port=$2; shift 2 ;;
		--partitions) partitions=$2; shift 2 ;;
		--topics) topics=$2; shift 2 ;;
		--broker-config) extra_config=$2; shift 2 ;;
		--security) security=$2; shift 2 ;;
		*) die "unknown option $1" ;;
		esac
	done
	[ -n "$dir" ] || die "start needs --dir DIR"
	case $nodes in 1 | 3) ;; *) die "--nodes must be 1 or 3" ;; esac
	[ -e "$dir/nodes" ] && die "$dir already holds a cluster: stop it first"
	verify "$LIB" || cmd_fetch >/dev/null
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	echo "$nodes" >"$dir/nodes"
	[ -z "$security" ] || security_setup "$dir" "$security"

	local n voters='' bootstrap='' rf=$nodes isr=1 cluster_id
	[ "$nodes" = 3 ] && isr=2
	for n in $(seq 1 "$nodes"); do
		mkdir -p "$dir/node$n"
		if [ "$n" = 1 ] && [ -n "$port" ]; then
			echo "$port" >"$dir/node$n/port"
		else
			free_port >"$dir/node$n/port"
		fi
		free_port >"$dir/node$n/cport"
		voters+="${voters:+,}$n@127.0.0.1:$(cat "$dir/node$n/cport")"
		bootstrap+="${bootstrap:+,}127.0.0.1:$(cat "$dir/node$n/port")"
	done
	cluster_id=$(java -Xmx128m -cp "$(java_cp)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
	[ -n "$cluster_id" ] || die "StorageTool random-uuid failed"

	for n in $(seq 1 "$nodes"); do
		local nd="$dir/node$n"
		cat >"$nd/server.properties" <<EOF
# written by test/kafka/kafka.sh for a test cluster: do not use in production
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(cat "$nd/port"),CONTROLLER://127.0.0.1:$(cat "$nd/cport")
advertised.listeners=PLAINTEXT://127.0.0.1:$(cat "$nd/port")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$nd/data
auto.create.topics.enable=true
num.partitions=$partitions
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# tests start consumers at once: no 3 s wait for more members
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.check.interval.ms=30000
EOF
		[ -z "$security" ] || security_server_properties "$dir" "$n" >>"$nd/server.properties"
		# --broker-config: later lines win over the ones above
		[ -z "$extra_config" ] || tr ',' '\n' <<<"$extra_config" >>"$nd/server.properties"
		cat >"$nd/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
		java -Xmx128m -cp "$(java_cp)" -Dlog4j2.configurationFile="$nd/log4j2.properties" \
			kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" \
			-c "$nd/server.properties" "${SCRAM_ARGS[@]}" >>"$nd/server.log" 2>&1 ||
			die "StorageTool format failed: see $nd/server.log"
	done
	for n in $(seq 1 "$nodes"); do
		node_start "$dir" "$n"
	done
	echo "$bootstrap" >"$dir/bootstrap"
	START_DIR=$dir
	wait_ready "$dir" $(seq 1 "$nodes")
	[ -z "$topics" ] || create_compacted "$bootstrap" "$topics" "$partitions" "$rf"
	[ -z "$topics" ] || create_topics "$bootstrap" "$topics"
	echo "$bootstrap"
	[ -z "$security" ] || security_grant "$dir" "$topics"
}

# ---- security mode (start --security sasl_ssl; see the header) -------------

SCRAM_ARGS=()
START_DIR=''

# kcat_as_admin DIR ARGS...: kcat, as the super user admin if DIR is secured.
kcat_as_admin()
{
	local dir=$1
	shift
	if [ -n "$dir" ] && [ -f "$dir/security/admin.properties" ]; then
		kcat -F "$dir/security/admin.properties" "$@"
	else
		kcat "$@"
	fi
}

# security_setup DIR MODE: the CA, the certificates, the users' passwords and
# client settings in DIR/security; fills SCRAM_ARGS for the format.
security_setup()
{
	local dir=$1 s="$1/security" cn u
	[ "$2" = sasl_ssl ] || die "--security must be sasl_ssl"
	command -v openssl >/dev/null || die "--security needs openssl"
	rm -rf "$s"
	mkdir -p "$s"
	chmod 700 "$s"
	(
		cd "$s" || exit 1
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=f1tel test CA" \
			-keyout ca.key -out ca.pem || exit 1
		for cn in broker f1tel; do
			openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$cn.key" -out "$cn.csr" || exit 1
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$cn.ext"
			openssl x509 -req -in "$cn.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
				-extfile "$cn.ext" -out "$cn.pem" || exit 1
		done
		# the brokers' PEM keystore: the (PKCS#8, unencrypted) key, then the certificate
		cat broker.key broker.pem >broker-keystore.pem
		for u in admin f1tel; do
			openssl rand -hex 16 >"$u.password"
			cat >"$u.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=$u
sasl.password=$(cat "$u.password")
ssl.ca.location=$s/ca.pem
EOF
		done
		sed 's/^sasl.mechanisms=.*/sasl.mechanisms=SCRAM-SHA-512/' f1tel.properties >f1tel-scram.properties
		cat >f1tel-mtls.properties <<EOF
security.protocol=SSL
ssl.ca.location=$s/ca.pem
ssl.certificate.location=$s/f1tel.pem
ssl.key.location=$s/f1tel.key
EOF
		cat >admin-java.properties <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat admin.password)";
ssl.truststore.type=PEM
ssl.truststore.location=$s/ca.pem
EOF
		cat >log4j2-tools.properties <<EOF
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %m (%c)%n
EOF
	) >"$dir/openssl.log" 2>&1 || die "making the certificates failed: see $dir/openssl.log"
	SCRAM_ARGS=()
	for u in admin f1tel; do
		SCRAM_ARGS+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(cat "$s/$u.password")]")
	done
}

# security_server_properties DIR N: the lines that secure node N (they come
# last in its server.properties and so override the plaintext ones).
security_server_properties()
{
	local nd="$1/node$2" s="$1/security"
	[ -f "$nd/mport" ] || free_port >"$nd/mport"
	chmod 600 "$nd/server.properties"	# the PLAIN passwords follow
	cat <<EOF
# security mode (kafka.sh start --security): overrides the lines above
listeners=SASL_SSL://127.0.0.1:$(cat "$nd/port"),MTLS://127.0.0.1:$(cat "$nd/mport"),CONTROLLER://127.0.0.1:$(cat "$nd/cport")
advertised.listeners=SASL_SSL://127.0.0.1:$(cat "$nd/port"),MTLS://127.0.0.1:$(cat "$nd/mport")
listener.security.protocol.map=SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:SSL
inter.broker.listener.name=MTLS
ssl.keystore.type=PEM
ssl.keystore.location=$s/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$s/ca.pem
listener.name.mtls.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="$(cat "$s/admin.password")" user_f1tel="$(cat "$s/f1tel.password")";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:broker
allow.everyone.if.no.acl.found=false
EOF
}

# acl_run DIR ARGS...: Kafka's AclCommand as admin against DIR's cluster.
acl_run()
{
	local dir=$1
	shift
	java -Xmx128m -Dlog4j2.configurationFile="$dir/security/log4j2-tools.properties" \
		-cp "$(java_cp)" org.apache.kafka.tools.AclCommand \
		--bootstrap-server "$(cat "$dir/bootstrap")" \
		--command-config "$dir/security/admin-java.properties" "$@"
}

# security_grant DIR TOPICS: f1tel's ACLs, then what a client needs.
security_grant()
{
	local dir=$1 s="$1/security" t n read=() mtls=''
	for t in ${2//,/ }; do
		[ "$t" = f1-laps-enriched ] || read+=(--topic "$t")
	done
	if ! acl_run "$dir" --add --allow-principal User:f1tel --operation Read --operation Describe \
		"${read[@]}" --group f1tel --group f1tel-test >>"$s/acl.log" 2>&1 ||
		! acl_run "$dir" --add --allow-principal User:f1tel --operation Write --operation Describe \
			--topic f1-laps-enriched >>"$s/acl.log" 2>&1; then
		die "AclCommand failed: see $s/acl.log"
	fi
	for n in $(seq 1 "$(cat "$dir/nodes")"); do
		mtls+="${mtls:+,}127.0.0.1:$(cat "$dir/node$n/mport")"
	done
	echo "$mtls" >"$dir/bootstrap-mtls"
	echo "security: SASL_SSL (PLAIN, SCRAM-SHA-512) on $(cat "$dir/bootstrap"); mTLS on $mtls"
	echo "ca: $s/ca.pem"
	echo "admin (super user): $s/admin.properties"
	echo "f1tel: $s/f1tel.properties (PLAIN), $s/f1tel-scram.properties, $s/f1tel-mtls.properties (mTLS)"
}

cmd_acl()
{
	if [ "${1:-}" != --dir ] || [ $# -lt 2 ]; then
		die "acl needs --dir DIR first"
	fi
	local dir=$2
	shift 2
	[ -f "$dir/security/admin-java.properties" ] || die "$dir holds no secured cluster (start --security)"
	acl_run "$dir" "$@"
}

node_list()
{
	local dir=$1 node=$2
	if [ -n "$node" ]; then echo "$node"; else seq 1 "$(cat "$dir/nodes")"; fi
}

# nodes_stop DIR N...: SIGTERM to every listed node at once (a clean
# shutdown: one by one, the last controllers would wait for a lost quorum),
# SIGKILL to those still running after 60 s.
nodes_stop()
{
	local dir=$1 n pids=() pid i alive
	shift
	for n in "$@"; do
		[ -f "$dir/node$n/pid" ] || continue
		pid=$(cat "$dir/node$n/pid")
		kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
	done
	for i in $(seq 1 600); do
		alive=0
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	: "$i"
	for pid in "${pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "kafka.sh: pid $pid still running after 60 s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for n in "$@"; do rm -f "$dir/node$n/pid"; done
}

parse_dir_node()
{
	DIR='' NODE=''
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) DIR=$2; shift 2 ;;
		--node) NODE=$2; shift 2 ;;
		*) die "unknown option $1" ;;
		esac
	done
	[ -n "$DIR" ] || die "needs --dir DIR"
	[ -f "$DIR/nodes" ] || die "$DIR holds no cluster"
}

cmd_down()
{
	local n
	parse_dir_node "$@"
	# shellcheck disable=SC2046
	nodes_stop "$DIR" $(node_list "$DIR" "$NODE")
}

cmd_up()
{
	local n
	parse_dir_node "$@"
	for n in $(node_list "$DIR" "$NODE"); do node_start "$DIR" "$n"; done
	# shellcheck disable=SC2046
	wait_ready "$DIR" $(node_list "$DIR" "$NODE")
}

cmd_stop()
{
	local n
	parse_dir_node "$@"
	# shellcheck disable=SC2046
	nodes_stop "$DIR" $(node_list "$DIR" '')
	for n in $(node_list "$DIR" ''); do rm -rf "$DIR/node$n/data"; done
	rm -f "$DIR/nodes"
}

# ---- a cluster's faults and state (test/t/110_kafka_cluster.pl) ----

cmd_kill()
{
	parse_dir_node "$@"
	[ -n "$NODE" ] || die "kill needs --node N"
	[ -f "$DIR/node$NODE/pid" ] || die "node $NODE is not running"
	kill -KILL "$(cat "$DIR/node$NODE/pid")" 2>/dev/null || true
	while kill -0 "$(cat "$DIR/node$NODE/pid")" 2>/dev/null; do sleep 0.1; done
	rm -f "$DIR/node$NODE/pid"
}

# live_bootstrap DIR: the addresses of the nodes that run
live_bootstrap()
{
	local dir=$1 n out=''
	for n in $(node_list "$dir" ''); do
		[ -f "$dir/node$n/pid" ] && kill -0 "$(cat "$dir/node$n/pid")" 2>/dev/null &&
			out+="${out:+,}127.0.0.1:$(cat "$dir/node$n/port")"
	done
	[ -n "$out" ] || die "no node of $DIR runs"
	echo "$out"
}

# leaders_of DIR: topic partition leader isr replicas, from a metadata request
leaders_of()
{
	kcat -b "$(live_bootstrap "$1")" -L -J -m 5 2>/dev/null | python3 -c '
import json, sys
md = json.load(sys.stdin)
for t in sorted(md["topics"], key=lambda t: t["topic"]):
    for p in sorted(t["partitions"], key=lambda p: p["partition"]):
        print(t["topic"], p["partition"], p["leader"], len(p.get("isrs", [])), len(p.get("replicas", [])))'
}

cmd_leaders()
{
	parse_dir_node "$@"
	leaders_of "$DIR"
}

cmd_wait_isr()
{
	local timeout=120 args=() deadline
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) timeout=$2; shift 2 ;;
		*) args+=("$1"); shift ;;
		esac
	done
	parse_dir_node "${args[@]}"
	deadline=$((SECONDS + timeout))
	until leaders_of "$DIR" | awk '$3 < 0 || $4 != $5 {bad = 1} END {exit bad || NR == 0}'; do
		[ $SECONDS -lt $deadline ] || die "the ISR of some partitions was not full within $timeout s"
		sleep 1
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
fetch) cmd_fetch ;;
sums) cmd_sums ;;
start) cmd_start "$@" ;;
down) cmd_down "$@" ;;
up) cmd_up "$@" ;;
stop) cmd_stop "$@" ;;
acl) cmd_acl "$@" ;;
kill) cmd_kill "$@" ;;
leaders) cmd_leaders "$@" ;;
wait-isr) cmd_wait_isr "$@" ;;
*) sed -n '2,31s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
