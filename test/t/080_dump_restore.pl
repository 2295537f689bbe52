# test/t/080_dump_restore.pl — pg_dump of a running f1tel database, restored
# into a new cluster that continues the stream, against an uninterrupted run.
#
# Node A ingests the first part of the recorded sessions through f1tel-broker
# and its sink pushes to the local BigQuery server (dataset f1) and the upsert
# topic; node C, with its own consumer group and dataset c, ingests the same
# stream and is never interrupted.  A is dumped (pg_dump -Fc) and stopped; a
# new cluster B (fresh initdb, f1tel preloaded, its workers already waiting
# for the extension) gets the dump with the restore command of the README
# (CREATE EXTENSION comes from the dump); B's workers point at the same broker
# and dataset and the stream goes on into B and C.  At the end B must equal C
# in every staging table (ids included), f1tel.dead_letters, driver_laps
# (versions included) and kafka_offsets, and BigQuery's dataset f1 (A then B)
# must hold every lap version exactly once, as dataset c does.
#
# The server's clock is moved past its insertId window between A and B (a
# restore takes longer than BigQuery's de-duplication lasts), so an insertId
# sent again would be a stored duplicate, not a silently dropped one.
#
# Versions depend on how messages fall into batches (a lap and its next lap
# in one batch is one version, in two batches two), so both runs use
# f1tel.batch_size = 1 and the stream comes in waves, one endpoint at a time,
# each ingested by every node before the next: then versions are a function
# of the data.  Two bad messages (hand-written, not recorded data), one per
# part, make one dead letter on each side of the dump.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my $tmp = PostgreSQL::Test::Utils::tempdir();

# What each node runs with; B is A's replacement, C the uninterrupted run.
my $common = "f1tel.batch_size = 1\n";
my $conf_ab = sink_conf($bq) . $common;
my $conf_c = sink_conf($bq) . $common
  . "f1tel.bigquery_dataset = 'c'\nf1tel.enriched_topic = 'c-laps-enriched'\n";

my $node_a = new_node('a', broker => $broker, group => 'f1tel-ab', conf => $conf_ab);
my $node_c = new_node('c', broker => $broker, group => 'f1tel-c', conf => $conf_c);

# ---- the stream, in waves --------------------------------------------------

my %topic_of = (sessions => 'f1_sessions', meetings => 'f1_meetings', drivers => 'f1_drivers',
	laps => 'f1_laps', position => 'f1_position', race_control => 'f1-race_control');
my %fed;    # topic => messages produced so far
my $healthy = 1;

sub records
{
	my ($session, $ep) = @_;
	my $j = decode_json(slurp_file(data_dir() . "/$session/$ep.json"));
	return scalar(@$j);
}

# Every message produced so far is in the node's offsets (rows or dead letters).
sub wait_ingested
{
	my ($node, $what) = @_;
	my $want = join(' ', map { "$_=$fed{$_}" } sort keys %fed);
	my $sql = q{SELECT string_agg(topic || '=' || n, ' ' ORDER BY topic)
		FROM (SELECT topic, sum(coalesce(next_offset, 0)) AS n FROM f1tel.kafka_offsets
			  GROUP BY topic HAVING sum(coalesce(next_offset, 0)) > 0) s};
	my $deadline = time() + ($healthy ? 180 : 5);
	my $got;
	while (time() < $deadline)
	{
		$got = $node->safe_psql('postgres', $sql);
		return 1 if $got eq $want;
		sleep 1;
	}
	$healthy = 0;
	diag "$what: ingested $got, fed $want";
	diag 'last errors: ' . $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT last_error, ' | ') FROM f1tel.kafka_offsets});
	return 0;
}

sub wave
{
	my ($session, $endpoints, @nodes) = @_;
	is(run_feed($broker, sessions => [$session], endpoints => $endpoints), 0,
		"fed $session: @$endpoints");
	$fed{ $topic_of{$_} } += records($session, $_) foreach @$endpoints;
	ok(wait_ingested($_, $_->name . " after $session @$endpoints"),
		$_->name . " ingested $session @$endpoints") foreach @nodes;
}

sub bad_message
{
	my ($key, $payload, @nodes) = @_;
	my $input = join("\t", 'f1_laps', $key, unpack('H*', $payload)) . "\n";
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/produce.py', "$broker->{brokers}" ],
		'<', \$input, '>', \$out, '2>', \$err);
	is($?, 0, "bad message $key produced") or diag $err;
	$fed{f1_laps}++;
	ok(wait_ingested($_, $_->name . " after $key"), $_->name . " took bad message $key") foreach @nodes;
}

# ---- part 1: A and C ---------------------------------------------------------

wave('9189', [qw(sessions meetings drivers)], $node_a, $node_c);
wave('9189', ['laps'], $node_a, $node_c);
wave('9189', ['race_control'], $node_a, $node_c);
bad_message('9189:1', 'not json: before the dump', $node_a, $node_c);
ok(wait_for_sinks($node_a), 'A: the sinks pushed every change');
ok(wait_for_sinks($node_c), 'C: the sinks pushed every change');
my $pushed_a = $node_a->safe_psql('postgres', q{SELECT rows_pushed FROM f1tel.sink_status WHERE sink = 'bigquery'});
cmp_ok($pushed_a, '>', 0, "A pushed $pushed_a rows to BigQuery");

# ---- the dump, and A's end -----------------------------------------------------

# what a restore must reproduce: every lap's version, the queues
my $state_sql = q{
	SELECT (SELECT count(*) FROM f1tel.change_queue) || ' queued, driver_laps '
		|| (SELECT count(*) || ' ' || md5(string_agg(format('%s/%s/%s/%s/%s', session_key, driver_number,
															 lap_number, version, position), ','
											   ORDER BY session_key, driver_number, lap_number))
			  FROM f1tel.driver_laps)};
my $state_a = $node_a->safe_psql('postgres', $state_sql);
my $dump = "$tmp/a.dump";
$node_a->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node_a->connstr('postgres') ],
	'pg_dump of A');
$node_a->stop;
my ($st) = bq_call($bq, 'POST', '/_clock', { advance_s => 900 });
is($st, 200, "BigQuery's clock moved past its insertId window");

# ---- B: a fresh cluster, f1tel preloaded, the workers waiting for the extension

my $node_b = PostgreSQL::Test::Cluster->new('b');
$node_b->init;
$node_b->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.brokers = '$broker->{brokers}'
f1tel.group_id = 'f1tel-ab'
f1tel.ingest_workers = 1
f1tel.kafka_config = 'session.timeout.ms=6000, heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'
max_worker_processes = 16
log_min_messages = info
$conf_ab
EOF
$node_b->start;
$node_b->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
  or diag 'B: no ingest worker waiting';

# A restore with the triggers enabled recomputes driver_laps and queues changes
# while laps, drivers and position arrive table by table: shown in a scratch
# database of B (the workers run in "postgres" only).
$node_b->safe_psql('postgres', 'CREATE DATABASE scratch');
my ($rout, $rerr) = ('', '');
IPC::Run::run([ 'pg_restore', '--single-transaction', '--exit-on-error', '-d', $node_b->connstr('scratch'), $dump ],
	'>', \$rout, '2>', \$rerr);
my $plain = $? == 0 ? $node_b->safe_psql('scratch', $state_sql) : 'failed: ' . (split /\n/, $rerr)[0];
isnt($plain, $state_a, "a restore with the triggers enabled does not reproduce A ($plain)");
$node_b->safe_psql('postgres', 'DROP DATABASE scratch');

# The restore of the README: one transaction (the workers see the extension
# and its data at once), triggers off (the dump holds their results).
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node_b->command_ok([ 'pg_restore', '--single-transaction', '--exit-on-error',
			'-d', $node_b->connstr('postgres'), $dump ], 'pg_restore into B');
}
is($node_b->safe_psql('postgres', $state_sql), $state_a, 'B: driver_laps and the queues as A left them');
is($node_b->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0',
	'B: driver_laps equals its definition after the restore');

# ---- part 2: B and C ------------------------------------------------------------

wave('9189', ['position'], $node_b, $node_c);
wave('9606', [qw(sessions meetings drivers)], $node_b, $node_c);
wave('9606', ['laps'], $node_b, $node_c);
wave('9606', ['position'], $node_b, $node_c);
wave('9606', ['race_control'], $node_b, $node_c);
bad_message('9606:1', 'not json: after the restore', $node_b, $node_c);
ok(wait_for_sinks($node_b, $healthy ? 180 : 5), 'B: the sinks pushed every change');
ok(wait_for_sinks($node_c), 'C: the sinks pushed every change');

# ---- B equals C ----------------------------------------------------------------

sub same_rows { same_table_rows($node_b, $node_c, @_, 'B equals C') }

my $when = q{'ingested_at', 'updated_at', 'dead_at', 'last_batch_at', 'last_error_at'};
foreach my $t (staging_tables())
{
	next if $t eq 'car_data' || $t eq 'location';
	my $key = natural_key($t);
	same_rows($t, $key ? join(', ', @$key) : 'id', $when);
}
same_rows('driver_laps', 'session_key, driver_number, lap_number', $when);
same_rows('dead_letters', 'id', $when);
same_rows('kafka_offsets', 'topic, partition', "$when, 'group_id', 'high_watermark'");
is($node_b->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '2',
	'B: the two bad messages are the only dead letters');
cmp_ok($node_b->safe_psql('postgres', 'SELECT max(version) FROM f1tel.driver_laps'), '>', 1,
	'B: versions went on past 1 after the restore');
cmp_ok($node_b->safe_psql('postgres', q{SELECT rows_pushed FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	'>', $pushed_a, "B's sink_status continues A's");
is(slurp_file($node_b->logfile) =~ /duplicate key value/ ? 'collision' : 'none', 'none',
	'B: no primary key collision in the log');

# ---- BigQuery: every lap version once, the latest equal to driver_laps ---------

sub check_bigquery
{
	my ($node, $dataset, $what) = @_;
	my $rows = bq_table_rows($bq, 'f1tel-test', $dataset, 'driver_laps');
	$node->safe_psql('postgres', "DROP TABLE IF EXISTS bq_$dataset; CREATE TABLE bq_$dataset (r jsonb)");
	$node->safe_psql('postgres', "INSERT INTO bq_$dataset SELECT value FROM jsonb_array_elements('"
		  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
	my $k = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int};
	is($node->safe_psql('postgres', "SELECT count(*) - count(DISTINCT ($k, (r->>'version')::bigint)) FROM bq_$dataset"),
		'0', "$what: no lap version stored twice in BigQuery");
	is(scalar(@$rows), $node->safe_psql('postgres', 'SELECT sum(version) FROM f1tel.driver_laps'),
		"$what: BigQuery holds every version of every lap (" . scalar(@$rows) . ' rows)');
	is($node->safe_psql('postgres', "WITH
		l AS (SELECT session_key, driver_number, lap_number, version, position, name_acronym,
					 round(extract(epoch FROM lap_end)::numeric, 3) FROM f1tel.driver_laps),
		q AS (SELECT DISTINCT ON ($k) $k, (r->>'version')::bigint, (r->>'position')::int,
					 r->>'name_acronym', round((r->>'lap_end')::numeric, 3)
				FROM bq_$dataset ORDER BY $k, (r->>'version')::bigint DESC)
		SELECT (SELECT count(*) FROM (TABLE l EXCEPT ALL TABLE q) d)
			 + (SELECT count(*) FROM (TABLE q EXCEPT ALL TABLE l) d)"), '0',
		"$what: the latest version of each lap in BigQuery is driver_laps'");
	my $rc = bq_table_rows($bq, 'f1tel-test', $dataset, 'race_control');
	is(scalar(@$rc), $node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.race_control'),
		"$what: race_control complete in BigQuery, each record once");
}
check_bigquery($node_b, 'f1', 'A then B');
check_bigquery($node_c, 'c', 'C');
my ($sst, $stats) = bq_call($bq, 'GET', '/_stats');
note 'BigQuery insertAll: ' . encode_json($stats->{insert_all} // {});

$node_b->stop;
$node_c->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
