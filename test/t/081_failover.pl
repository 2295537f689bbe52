# test/t/081_failover.pl — a streaming standby of an f1tel cluster, the
# primary killed mid-stream, the standby promoted.
#
# The primary ingests session 9189 from f1tel-broker at 200x real time and
# its sink pushes to the local BigQuery server; the standby (a base backup,
# so f1tel is preloaded there too) is synchronous (synchronous_standby_names,
# synchronous_commit = on: the promise of the README's "Standbys and
# failover").  While in recovery the standby must run no f1tel worker and log
# nothing from f1tel.  Mid-stream the primary is stopped with 'immediate' (no
# shutdown checkpoint, the workers get no chance to finish); on the standby,
# still in recovery, every topic's replicated next offsets must account for
# exactly the rows replicated with them.  Then the standby is promoted: its
# workers start by themselves, resume from the replicated f1tel.kafka_offsets
# and, at the end, every staging table and driver_laps equal those of an
# uninterrupted node (its own consumer group and dataset): zero lost, zero
# duplicated.  BigQuery (primary then standby) holds each lap version once,
# and its latest version of each lap is the new primary's driver_laps.
#
# Then, with a second stream, an asynchronous standby (ingest only): it is
# stopped while the primary goes on, the primary is killed, and the standby
# never gets the batches it missed; its offsets lack them as its tables do,
# and after promotion it reads them again: every record of the files once.
# (The sink is not exactly once there unless f1tel.sink_wait_for_standbys is
# set: test/t/082_failover_async_sink.pl, which also shows the reused
# insertId without it.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my @endpoints = qw(sessions meetings drivers laps position race_control);

# ---- the primary, streaming, and its standby -----------------------------------

# A primary that allows streaming, with f1tel preloaded and created.
sub primary_node
{
	my ($name, $broker, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 1);
	$node->append_conf('postgresql.conf', <<"EOF" . $conf);
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.brokers = '$broker->{brokers}'
f1tel.group_id = 'f1tel-p'
f1tel.ingest_workers = 1
f1tel.kafka_config = 'session.timeout.ms=6000, heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'
max_worker_processes = 16
log_min_messages = info
EOF
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION f1tel');
	return $node;
}

my $primary = primary_node('primary', $broker, sink_conf($bq));
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby'\n");
$primary->reload;
$primary->poll_query_until('postgres',
	q{SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby is not synchronous';

# the uninterrupted run
my $ref = new_node('ref', broker => $broker, group => 'f1tel-ref',
	conf => sink_conf($bq) . "f1tel.bigquery_dataset = 'ref'\nf1tel.enriched_topic = 'ref-laps-enriched'\n");

$primary->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type IN ('f1tel ingest', 'f1tel sink')})
  or die 'the primary runs no workers';

# ---- the standby, in recovery: no worker, nothing in its log -------------------

sub f1tel_processes
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'f1tel %'});
}

my $feed = start_feed($broker, sessions => ['9189'], endpoints => \@endpoints, speed => 200);
$standby->poll_query_until('postgres', 'SELECT count(*) >= 150 FROM f1tel.laps')
  or die 'nothing replicated to the standby';
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is(f1tel_processes($standby), '0', 'the standby runs no f1tel process while in recovery');

# ---- the primary dies mid-stream ------------------------------------------------

$primary->stop('immediate');
my $laps_at_kill = $standby->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps');
cmp_ok($laps_at_kill, '<', 949, "the primary died mid-stream ($laps_at_kill of 949 laps replicated)");

# Offsets and rows are replicated together: on the standby, for every topic,
# the messages the offsets say were consumed are exactly the rows stored (in
# 9189 every message of these topics is one record with its own key).
sub offsets_match_rows
{
	my ($node, $what) = @_;
	my %topic_table = (f1_sessions => 'sessions', f1_meetings => 'meetings', f1_drivers => 'drivers',
		f1_laps => 'laps', f1_position => 'position', 'f1-race_control' => 'race_control');
	my $counts = join(' ', map { "$_=" . $node->safe_psql('postgres', "SELECT count(*) FROM f1tel.$_") }
		  sort @endpoints);
	my $offsets = join(' ', map { "$topic_table{$_->[0]}=$_->[1]" }
		  sort { $topic_table{ $a->[0] } cmp $topic_table{ $b->[0] } }
		  map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', q{
			SELECT topic || '|' || sum(coalesce(next_offset, 0)) FROM f1tel.kafka_offsets
			 WHERE topic IN ('f1_sessions', 'f1_meetings', 'f1_drivers', 'f1_laps', 'f1_position', 'f1-race_control')
			 GROUP BY topic}));
	is($offsets, $counts, "$what: the offsets account for exactly the rows ($counts)");
}
offsets_match_rows($standby, 'standby in recovery');
is(f1tel_processes($standby), '0', 'still no f1tel process on the standby');

# ---- promotion --------------------------------------------------------------------

$standby->promote;
$standby->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type IN ('f1tel ingest', 'f1tel sink')})
  or diag 'the promoted standby runs no workers';
is(finish_feed($feed), 0, 'the feed delivered 9189');

# Both nodes end with every record of the files, once.
my %fed;
foreach my $ep (@endpoints)
{
	my $j = decode_json(slurp_file(data_dir() . "/9189/$ep.json"));
	$fed{$ep} = scalar(@$j);
}
my $want = join(' ', map { "$_=$fed{$_}" } sort @endpoints);
foreach my $node ($standby, $ref)
{
	my $got;
	my $deadline = time() + 180;
	while (time() < $deadline)
	{
		$got = join(' ', map {
				"$_=" . $node->safe_psql('postgres', "SELECT count(*) FROM f1tel.$_")
			} sort @endpoints);
		last if $got eq $want;
		sleep 1;
	}
	is($got, $want, $node->name . ': every record of 9189 once');
	ok(wait_for_sinks($node), $node->name . ': the sinks pushed every change');
}

# ---- the new primary equals the uninterrupted run ---------------------------------

sub same_rows { same_table_rows($standby, $ref, @_, 'the promoted standby equals the uninterrupted run') }

# race_control ids and driver_laps versions depend on the batches (and a
# sequence skips ahead on promotion): everything else must be equal
my $when = q{'ingested_at', 'updated_at', 'id', 'version'};
foreach my $t (@endpoints)
{
	my $key = natural_key($t);
	same_rows($t, $key ? join(', ', @$key) : 'session_key, date, category, message', $when);
}
same_rows('driver_laps', 'session_key, driver_number, lap_number', $when);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letters');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0',
	'driver_laps equals its definition on the new primary');

# ---- BigQuery: each lap version once, the latest equal to driver_laps ---------------

my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
$standby->safe_psql('postgres', 'CREATE TABLE bq (r jsonb)');
$standby->safe_psql('postgres', "INSERT INTO bq SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
my $k = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int};
is($standby->safe_psql('postgres', "SELECT count(*) - count(DISTINCT ($k, (r->>'version')::bigint)) FROM bq"),
	'0', 'no lap version stored twice in BigQuery across the failover');
is(scalar(@$rows), $standby->safe_psql('postgres', 'SELECT sum(version) FROM f1tel.driver_laps'),
	'BigQuery holds every version of every lap, none the new primary does not know (' . scalar(@$rows) . ' rows)');
is($standby->safe_psql('postgres', "WITH
	l AS (SELECT session_key, driver_number, lap_number, version, position, name_acronym,
				 round(extract(epoch FROM lap_end)::numeric, 3) FROM f1tel.driver_laps),
	q AS (SELECT DISTINCT ON ($k) $k, (r->>'version')::bigint, (r->>'position')::int,
				 r->>'name_acronym', round((r->>'lap_end')::numeric, 3)
			FROM bq ORDER BY $k, (r->>'version')::bigint DESC)
	SELECT (SELECT count(*) FROM (TABLE l EXCEPT ALL TABLE q) d)
		 + (SELECT count(*) FROM (TABLE q EXCEPT ALL TABLE l) d)"), '0',
	"the latest version of each lap in BigQuery is the new primary's driver_laps");
my $rc = bq_table_rows($bq, 'f1tel-test', 'f1', 'race_control');
is(scalar(@$rc), 73, 'race_control: each of the 73 records once in BigQuery');
my ($sst, $stats) = bq_call($bq, 'GET', '/_stats');
note 'BigQuery insertAll: ' . encode_json($stats->{insert_all} // {});

# ---- the standby's log, while it was one ----------------------------------------------

my ($before_promote) = split /received promote request/, slurp_file($standby->logfile);
# (the walreceiver's FATALs about the dead primary are the failover itself;
# the test's own statements are logged too)
my @alarming = grep { /f1tel/ || (/WARNING|ERROR|PANIC/ && !/WAL stream|primary server/) }
  grep { !/statement:|081_failover\.pl/ } split /\n/, $before_promote;
is(scalar(@alarming), 0, 'the standby logged nothing from f1tel and nothing alarming while in recovery')
  or diag join("\n", @alarming[ 0 .. ($#alarming < 5 ? $#alarming : 5) ]);

$standby->stop;
$ref->stop;
stop_bigquery($bq);
stop_broker($broker);

# ---- asynchronous: the standby misses batches, ingest is still exactly once ----------
#
# A second stream (its own broker), ingest only.  The asynchronous standby is
# stopped while the primary goes on ingesting, the primary is killed, and the
# standby, started again, can never receive the batches it missed: their rows
# and their offsets are lost together, and after promotion they are read
# again from Kafka.
my $broker2 = start_broker(partitions => 4);
my $primary2 = primary_node('primary2', $broker2, '');
$primary2->backup('base2');
my $standby2 = PostgreSQL::Test::Cluster->new('standby2');
$standby2->init_from_backup($primary2, 'base2', has_streaming => 1);
$standby2->start;

my $feed2 = start_feed($broker2, sessions => ['9189'], endpoints => \@endpoints, speed => 200);
$standby2->poll_query_until('postgres', 'SELECT count(*) >= 100 FROM f1tel.laps')
  or die 'nothing replicated to the asynchronous standby';
$standby2->stop('fast');
my $missed_from = $primary2->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps');
$primary2->poll_query_until('postgres', 'SELECT count(*) >= ' . ($missed_from + 100) . ' FROM f1tel.laps')
  or die 'the primary did not go on';
$primary2->stop('immediate');
$standby2->start;
my $laps_p = $missed_from + 100;
my $laps_s = $standby2->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps');
cmp_ok($laps_s, '<', $laps_p, "the asynchronous standby missed batches ($laps_s laps, the primary had at least $laps_p)");
offsets_match_rows($standby2, 'asynchronous standby in recovery');
is(f1tel_processes($standby2), '0', 'no f1tel process on the asynchronous standby');
$standby2->promote;
is(finish_feed($feed2), 0, 'the feed delivered 9189 again');
load_expected($standby2, ['9189'], \@endpoints);
ok(wait_for_counts($standby2, expected_counts($standby2, \@endpoints), 180),
	'the promoted asynchronous standby caught up');
foreach my $t (@endpoints)
{
	my ($missing, $extra) = compare_with_files($standby2, $t);
	is("$missing/$extra", '0/0', "asynchronous failover: $t equals the files (missing/extra rows)");
}
offsets_match_rows($standby2, 'after the asynchronous failover');
is($standby2->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letters');
is($standby2->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0',
	'driver_laps equals its definition after the asynchronous failover');

$standby2->stop;
stop_broker($broker2);
done_testing();
