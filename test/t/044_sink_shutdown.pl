# test/t/044_sink_shutdown.pl — shutdown and DDL while the sink pushes (issue 9, item 11).
#
# The local BigQuery server holds every insertAll request unanswered (its
# "hang" fault) while the sink pushes and the upsert topic is produced (and
# gets every change meanwhile: the sink serves it between libcurl's polls):
#  1. SIGTERM to the sink worker: it is gone within 30 s (the launcher starts
#     another);
#  2. a fast shutdown (pg_ctl stop -m fast): done within 30 s;
#  3. the hung requests then go on (BigQuery stores their rows: answers that
#     came too late), PostgreSQL starts again: nothing lost, nothing twice —
#     every row version is in BigQuery once (by insertId), its latest
#     versions equal f1tel.driver_laps, and the compacted upsert topic too;
#  4. on a second node whose f1tel.database is f1db, with requests hanging
#     again: DROP EXTENSION f1tel, then (created again, pushing again) DROP
#     DATABASE f1db, each done within 30 s (the sink leaves the database
#     while its requests hang).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
# requests time out only after a minute: the sink must not wait for that
my $node = new_node('sinkstop', broker => $broker, conf => sink_conf($bq, timeout_ms => 60000));
my @endpoints = qw(sessions meetings drivers laps position race_control);

sub hanging
{
	my (undef, $s) = bq_call($bq, 'GET', '/_stats');
	return $s->{hanging} // 0;
}

sub wait_hanging
{
	my $deadline = time() + 90;
	usleep(200_000) while hanging() == 0 && time() < $deadline;
	return hanging() > 0;
}

sub sink_pid
{
	my ($n, $db) = @_;
	return $n->safe_psql($db // 'postgres', q{SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'f1tel sink'});
}

# --- 1. SIGTERM while insertAll requests hang
bq_call($bq, 'POST', '/_fault', { hang => JSON::PP::true, count => 1000000, path_contains => 'insertAll' });
is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints), 0, 'feed replayed 9189');
$node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM f1tel.laps WHERE session_key = 9189) = 949
	   AND (SELECT count(*) FROM f1tel.position WHERE session_key = 9189) = 548
	   AND (SELECT count(*) FROM f1tel.race_control WHERE session_key = 9189) = 73}) or die 'not ingested';
ok(wait_hanging(), 'the sink\'s insertAll requests hang');
# (item 8: each destination on its own) the topic gets every change meanwhile
my $deadline = time() + 50;
usleep(200_000) while $node->safe_psql('postgres', q{SELECT pending FROM f1tel.change_backlog WHERE subscriber = 'kafka'}) ne '0'
  && time() < $deadline;
is($node->safe_psql('postgres', q{SELECT pending FROM f1tel.change_backlog WHERE subscriber = 'kafka'}), '0',
	'the topic got every change while BigQuery\'s requests hang');
is($node->safe_psql('postgres', q{SELECT count(*) FROM f1tel.sink_status WHERE sink = 'bigquery'}), '0',
	'before any BigQuery request ended (they time out after 60 s)');
cmp_ok(hanging(), '>', 0, 'they still hang');
my $pid = sink_pid($node);
my $t0 = time();
ok(kill('TERM', $pid), "SIGTERM to the sink ($pid)");
$node->poll_query_until('postgres', "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)")
  or die 'the sink did not exit';
my $took = time() - $t0;
cmp_ok($took, '<', 30, sprintf('the sink exited on SIGTERM while its requests hung (%.1f s)', $took));

# --- 2. a fast shutdown while the new sink's requests hang
$node->poll_query_until('postgres', qq{
	SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'f1tel sink' AND pid <> $pid
	               AND query LIKE '%pushing%')}) or die 'no new sink pushing';
sleep 1;
$t0 = time();
$node->stop('fast');
$took = time() - $t0;
cmp_ok($took, '<', 30, sprintf('pg_ctl stop -m fast while requests hang (%.1f s)', $took));

# --- 3. the hung requests go on (stored late); after a restart nothing is lost or twice
bq_call($bq, 'DELETE', '/_fault');
$node->start;
ok(wait_for_sinks($node, 180), 'after the restart every change was pushed');

my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
$node->safe_psql('postgres', 'CREATE TABLE bq_rows (r jsonb)');
$node->safe_psql('postgres', "INSERT INTO bq_rows SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
is($node->safe_psql('postgres', q{
	SELECT count(*) - count(DISTINCT (r->>'session_key', r->>'driver_number', r->>'lap_number', r->>'version'))
	FROM bq_rows}), '0', 'no row version stored twice in BigQuery');
is($node->safe_psql('postgres', q{
	WITH latest AS (
		SELECT DISTINCT ON (1, 2, 3) (r->>'session_key')::int s, (r->>'driver_number')::int d,
			   (r->>'lap_number')::int l, (r->>'version')::bigint v, (r->>'position')::int p
		FROM bq_rows ORDER BY 1, 2, 3, 4 DESC)
	SELECT count(*) FROM (
		(SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps
		 EXCEPT ALL SELECT s, d, l, v, p FROM latest)
		UNION ALL
		(SELECT s, d, l, v, p FROM latest EXCEPT ALL
		 SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps)) x}),
	'0', "BigQuery's latest versions equal f1tel.driver_laps");

my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/python3', '-c', qq{
import json
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": "$broker->{brokers}", "group.id": "compactor",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
md = c.list_topics("f1-laps-enriched", timeout=10)
parts = [TopicPartition("f1-laps-enriched", p, 0) for p in md.topics["f1-laps-enriched"].partitions]
ends = {p.partition: c.get_watermark_offsets(p, timeout=10)[1] for p in parts}
c.assign(parts)
last = {}
done = {p: ends[p] == 0 for p in ends}
while not all(done.values()):
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    last[m.key()] = m.value()
    if m.offset() + 1 >= ends[m.partition()]:
        done[m.partition()] = True
for k, v in last.items():
    print(json.dumps(json.loads(v)))
} ], '>', \$out, '2>', \$err);
is($?, 0, 'a compacting consumer read f1-laps-enriched') or diag $err;
my @lines = split /\n/, $out;
$node->safe_psql('postgres', 'CREATE TABLE topic_laps (r jsonb)');
$node->safe_psql('postgres', "INSERT INTO topic_laps SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { s/'/''/gr } @lines) . ']' . "')");
is($node->safe_psql('postgres', q{SELECT count(*) FROM (
	(SELECT session_key, driver_number, lap_number, version FROM f1tel.driver_laps
	 EXCEPT ALL SELECT (r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int, (r->>'version')::bigint FROM topic_laps)
	UNION ALL
	(SELECT (r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int, (r->>'version')::bigint FROM topic_laps
	 EXCEPT ALL SELECT session_key, driver_number, lap_number, version FROM f1tel.driver_laps)) d}), '0',
	'the compacted upsert topic holds the final state (' . scalar(@lines) . ' laps)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.sink_dead_letters'), '0', 'no sink dead letter');
$node->stop;

# --- 4. DROP EXTENSION and DROP DATABASE while requests hang
my $ddl = new_node('sinkddl', broker => $broker, conf => sink_conf($bq, timeout_ms => 60000) . <<'EOF');
f1tel.database = 'f1db'
f1tel.group_id = 'f1tel-ddl'
f1tel.bigquery_dataset = 'f1ddl'
f1tel.enriched_topic = 'f1-laps-ddl'
EOF
$ddl->safe_psql('postgres', 'CREATE DATABASE f1db');
$ddl->safe_psql('f1db', 'CREATE EXTENSION f1tel');

sub push_hanging
{
	my ($offset) = @_;
	bq_call($bq, 'DELETE', '/_fault');    # the requests of before go on and end
	my $deadline = time() + 30;
	usleep(100_000) while hanging() > 0 && time() < $deadline;
	bq_call($bq, 'POST', '/_fault', { hang => JSON::PP::true, count => 1000000, path_contains => 'insertAll' });
	is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints, extra => [ '--session-key-offset', $offset ]),
		0, "feed replayed a clone of 9189 ($offset)");
	my $sk = 9189 + $offset;
	$ddl->poll_query_until('f1db', "SELECT count(*) = 949 FROM f1tel.laps WHERE session_key = $sk")
	  or die "clone $offset not ingested";
	ok(wait_hanging(), "the sink of f1db pushes, its requests hang ($offset)");
	$ddl->poll_query_until('f1db', q{SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'f1tel sink'
		AND query LIKE '%pushing%')}) or die 'the sink is not pushing';
}

push_hanging(700000);
$t0 = time();
my ($rc, $o, $e) = $ddl->psql('f1db', 'DROP EXTENSION f1tel', timeout => 60);
$took = time() - $t0;
is($rc, 0, 'DROP EXTENSION while the sink pushes') or diag $e;
cmp_ok($took, '<', 30, sprintf('DROP EXTENSION was not blocked (%.1f s)', $took));
$ddl->safe_psql('f1db', 'CREATE EXTENSION f1tel');

push_hanging(800000);
$t0 = time();
($rc, $o, $e) = $ddl->psql('postgres', 'DROP DATABASE f1db', timeout => 60);
$took = time() - $t0;
is($rc, 0, 'DROP DATABASE while the sink pushes') or diag $e;
cmp_ok($took, '<', 30, sprintf('DROP DATABASE was not blocked (%.1f s)', $took));
is($ddl->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'f1tel sink'}), '0',
	'the sink is gone');
bq_call($bq, 'DELETE', '/_fault');
$ddl->stop;

stop_bigquery($bq);
stop_broker($broker);
done_testing();
