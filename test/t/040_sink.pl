# test/t/040_sink.pl — the sink: BigQuery (the local server, tokens from its
# GCE metadata endpoint) and the upsert topic, after replays of 9189 and 9606.
#
# BigQuery's driver_laps, reduced to the latest version of each lap, must equal
# f1tel.driver_laps row for row, with no row version stored twice; its
# race_control must equal f1tel.race_control; a consumer of f1-laps-enriched
# that keeps the last value per key must end with exactly f1tel.driver_laps.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
# API calls need a token; the sink gets its tokens from the server's GCE
# metadata endpoint (f1tel.bigquery_credentials = 'metadata')
my $bq = start_bigquery(args => [ '--require-auth', 'token' ]);
$ENV{GCE_METADATA_HOST} = "127.0.0.1:$bq->{port}";
my $node = new_node('sink', broker => $broker, conf => sink_conf($bq, credentials => 'metadata'));
my @endpoints = qw(sessions meetings drivers laps position race_control);

is(run_feed($broker, sessions => [ '9189', '9606' ], endpoints => \@endpoints), 0, 'feed replayed both sessions');
$node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM f1tel.laps) = 2128 AND (SELECT count(*) FROM f1tel.race_control) = 134
	   AND (SELECT count(*) FROM f1tel.position) = 944})
  or die 'staging tables incomplete';
ok(wait_for_sinks($node), 'both sinks pushed every change');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'), '2128', 'driver_laps complete');

# --- BigQuery: the latest version of each lap equals driver_laps
my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
$node->safe_psql('postgres', 'CREATE TABLE bq_driver_laps (r jsonb)');
$node->safe_psql('postgres', "INSERT INTO bq_driver_laps SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
cmp_ok(scalar(@$rows), '>=', 2128, scalar(@$rows) . ' row versions in BigQuery');
is($node->safe_psql('postgres', q{
	SELECT count(*) - count(DISTINCT (r->>'session_key', r->>'driver_number', r->>'lap_number', r->>'version'))
	FROM bq_driver_laps}), '0', 'no row version stored twice in BigQuery');
my $cols = q{session_key, driver_number, lap_number, version, lap_duration, position, name_acronym,
	team_name, team_colour, full_name, is_pit_out_lap, st_speed, round(extract(epoch FROM date_start)::numeric, 3) AS date_start,
	round(extract(epoch FROM lap_end)::numeric, 3) AS lap_end};
my $bqcols = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int,
	(r->>'version')::bigint, (r->>'lap_duration')::float8, (r->>'position')::int, r->>'name_acronym',
	r->>'team_name', r->>'team_colour', r->>'full_name', (r->>'is_pit_out_lap')::bool, (r->>'st_speed')::int,
	round((r->>'date_start')::numeric, 3), round((r->>'lap_end')::numeric, 3)};
my $latest = "SELECT DISTINCT ON ((r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int) $bqcols
	FROM bq_driver_laps ORDER BY (r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int, (r->>'version')::bigint DESC";
is($node->safe_psql('postgres', "SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL ($latest))
	UNION ALL
	(($latest) EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"), '0',
	'BigQuery driver_laps, latest version of each lap, equals f1tel.driver_laps row for row');

# --- BigQuery: race_control equals f1tel.race_control
my $rc = bq_table_rows($bq, 'f1tel-test', 'f1', 'race_control');
is(scalar(@$rc), 134, 'race_control: 134 rows in BigQuery');
my %local = map { $_ => 1 } split /\n/, $node->safe_psql('postgres',
	q{SELECT session_key || '|' || category || '|' || message || '|' || round(extract(epoch FROM date)) FROM f1tel.race_control});
my $same = grep { $local{"$_->{session_key}|$_->{category}|$_->{message}|" . sprintf('%.0f', $_->{date})} } @$rc;
is($same, 134, 'every BigQuery race_control row is a row of f1tel.race_control');

# --- the views the sink created
my ($st, $res) = bq_call($bq, 'POST', '/bigquery/v2/projects/f1tel-test/queries',
	{ query => 'SELECT COUNT(*) FROM `f1tel-test.f1.driver_laps_latest`', useLegacySql => JSON::PP::false });
is($st, 200, 'the driver_laps_latest view can be queried');
is($res->{rows}[0]{f}[0]{v}, 2128, 'driver_laps_latest has one row per lap');

# --- the upsert topic: the last value of each key equals driver_laps
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
    print(json.dumps({"key": json.loads(k), "value": json.loads(v)}))
} ], '>', \$out, '2>', \$err);
is($?, 0, 'a compacting consumer read f1-laps-enriched') or diag $err;
$node->safe_psql('postgres', 'CREATE TABLE topic_laps (r jsonb)');
my @lines = split /\n/, $out;
$node->safe_psql('postgres', "INSERT INTO topic_laps SELECT value->'value' FROM jsonb_array_elements('"
	  . '[' . join(',', map { s/'/''/gr } @lines) . ']' . "')");
is(scalar(@lines), 2128, 'one key per lap in the topic');
my $tcols = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int,
	(r->>'version')::bigint, (r->>'lap_duration')::float8, (r->>'position')::int, r->>'name_acronym',
	r->>'team_name', r->>'team_colour', r->>'full_name', (r->>'is_pit_out_lap')::bool, (r->>'st_speed')::int,
	round(extract(epoch FROM (r->>'date_start')::timestamptz)::numeric, 3), round(extract(epoch FROM (r->>'lap_end')::timestamptz)::numeric, 3)};
is($node->safe_psql('postgres', "SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL SELECT $tcols FROM topic_laps)
	UNION ALL
	(SELECT $tcols FROM topic_laps EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"), '0',
	'the compacted upsert topic equals f1tel.driver_laps');

is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.sink_dead_letters'), '0', 'no sink dead letters');
is($node->safe_psql('postgres', q{SELECT string_agg(sink || ':' || (rows_pushed > 0) || ':' || coalesce(last_error, 'ok'), ' ' ORDER BY sink) FROM f1tel.sink_status}),
	'bigquery:true:ok kafka:true:ok', 'sink_status: both sinks pushed, no error standing');

# the sink's topic check (src/sink/topic_check.c)
if (F1telTest::broker_kind() eq 'mock')
{
	is(scalar(() = slurp_file($node->logfile) =~ /LOG:  f1tel sink: could not check that the topic "f1-laps-enriched" is compacted/g),
		1, 'the embedded broker has no admin API: the sink said so once, at LOG level, and went on');
}
else
{
	ok(!$node->log_contains(qr/is not compacted|could not check that the topic/),
		'the topic kafka.sh created is compacted: the sink checked it, no warning');
}

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
