# test/t/082_failover_async_sink.pl — the sink stays exactly once across a
# failover to an ASYNCHRONOUS standby when f1tel.sink_wait_for_standbys = 1
# (README, "Standbys and failover").
#
# The primary ingests session 9189 from f1tel-broker at 200x real time and
# its sink pushes to the local BigQuery server and the upsert topic; its one
# standby is asynchronous.  Mid-stream the standby is stopped: (a) the sink
# pushes nothing new and f1tel.sink_status says why (state 'waiting',
# last_error naming the standby count and the LSN); then the primary is
# killed ('immediate'), the standby, which never got the primary's last
# batches, is promoted and finishes the stream: (b) BigQuery's driver_laps
# holds no (lap, version) with two contents and its latest version of every
# lap is the new primary's driver_laps.
#
# A hand-written edge case makes the failure without the setting certain: a
# lap no feed message touches (session 1) is changed on the primary while the
# standby is stopped (version 2, lap_duration 111.111), and changed
# otherwise on the new primary (version 2 again, 222.222): with the setting
# the first never reaches BigQuery; with F1TEL_082_WAIT=0 (the setting at 0)
# it does, BigQuery keeps it under the reused insertId, and the last checks
# fail (run it so to see them fail).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $wait = $ENV{F1TEL_082_WAIT} // 1;
my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my @endpoints = qw(sessions meetings drivers laps position race_control);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', <<"CONF" . sink_conf($bq));
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.brokers = '$broker->{brokers}'
f1tel.group_id = 'f1tel-p'
f1tel.ingest_workers = 1
f1tel.kafka_config = 'session.timeout.ms=6000, heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'
f1tel.sink_wait_for_standbys = $wait
max_worker_processes = 16
log_min_messages = info
CONF
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION f1tel');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->poll_query_until('postgres',
	q{SELECT sync_state = 'async' AND state = 'streaming' FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby does not stream';

# the hand-written lap (session 1: no feed message touches it)
sub lap_message
{
	my ($duration) = @_;
	return q|SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key": 1, "session_key": 1, "driver_number": 1, |
	  . qq|"lap_number": 1, "date_start": "2023-01-01T00:00:00+00:00", "lap_duration": $duration}')|;
}
$primary->safe_psql('postgres', lap_message(100.5));

my $feed = start_feed($broker, sessions => ['9189'], endpoints => \@endpoints, speed => 200);
$standby->poll_query_until('postgres',
	'SELECT count(*) >= 150 FROM f1tel.laps WHERE session_key = 9189 AND EXISTS (SELECT FROM f1tel.driver_laps WHERE session_key = 1)')
  or die 'nothing replicated to the standby';

# ---- (a) the standby stops: the sink waits, and says so -------------------------

$standby->stop('fast');
$primary->safe_psql('postgres', lap_message(111.111));
is($primary->safe_psql('postgres', 'SELECT version FROM f1tel.driver_laps WHERE session_key = 1'), '2',
	'the hand-written lap is at version 2 on the primary, which the standby lacks');
my $missed_from = $primary->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps');
$primary->poll_query_until('postgres', 'SELECT count(*) >= ' . ($missed_from + 100) . ' FROM f1tel.laps')
  or die 'the primary did not go on';

sub bq_lap_versions
{
	my %v;
	foreach my $r (@{ bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps') })
	{
		$v{"$r->{session_key}/$r->{driver_number}/$r->{lap_number}/$r->{version}"} = $r->{lap_duration};
	}
	return \%v;
}

if ($wait)
{
	foreach my $sink (qw(bigquery kafka))
	{
		ok($primary->poll_query_until('postgres', qq{
			SELECT state = 'waiting' AND last_error ~ '^waiting for 1 streaming standby to flush WAL to [0-9A-F]+/[0-9A-F]+ '
			  FROM f1tel.sink_status WHERE sink = '$sink'}),
			"$sink: sink_status says the sink waits for the standby")
		  or diag $primary->safe_psql('postgres', 'SELECT * FROM f1tel.sink_status');
	}
	note 'sink_status: ' . $primary->safe_psql('postgres',
		q{SELECT string_agg(sink || ': ' || state || ', ' || last_error, '; ') FROM f1tel.sink_status});
	is($primary->safe_psql('postgres', q{SELECT status FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}),
		'waiting', 'change_backlog shows the wait too');
	my $before = bq_lap_versions();
	sleep 3;
	my $after = bq_lap_versions();
	is(scalar(keys %$after), scalar(keys %$before),
		'while the standby is stopped, BigQuery gets nothing new (' . scalar(keys %$after) . ' lap versions)');
	ok(!exists $after->{'1/1/1/2'}, 'the version the standby lacks was not pushed');
	cmp_ok($primary->safe_psql('postgres', q{SELECT pending FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}),
		'>', 0, 'the changes stay queued');
	like(slurp_file($primary->logfile), qr/f1tel sink: bigquery is waiting for 1 streaming standby/,
		'the wait is logged');
}
else
{
	my $deadline = time() + 60;
	sleep 1 while !exists bq_lap_versions()->{'1/1/1/2'} && time() < $deadline;
	ok(exists bq_lap_versions()->{'1/1/1/2'}, 'without the setting the sink pushed a version the standby lacks');
}

# ---- (b) the primary dies, the standby that missed its last batches is promoted -------

$primary->stop('immediate');
$standby->start;
my $laps_s = $standby->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps');
cmp_ok($laps_s, '<', $missed_from + 100, "the standby missed the primary's last batches ($laps_s laps)");
$standby->promote;
if ($wait)
{
	# the new primary has no standby: its sink waits until it has one, or
	# until the setting is lowered
	ok($standby->poll_query_until('postgres',
			q{SELECT count(*) > 0 FROM f1tel.sink_status WHERE state = 'waiting' AND last_error_at > pg_postmaster_start_time()}),
		'the new primary, without a standby, waits too');
	$standby->safe_psql('postgres', 'ALTER SYSTEM SET f1tel.sink_wait_for_standbys = 0');
	$standby->reload;
}
is(finish_feed($feed), 0, 'the feed delivered 9189');
# the new primary makes its own version 2 of the hand-written lap
$standby->safe_psql('postgres', lap_message(222.222));
is($standby->safe_psql('postgres', 'SELECT version FROM f1tel.driver_laps WHERE session_key = 1'), '2',
	'the new primary made its own version 2 of the hand-written lap');

my %fed;
foreach my $ep (@endpoints)
{
	my $j = decode_json(slurp_file(data_dir() . "/9189/$ep.json"));
	$fed{$ep} = scalar(@$j) + ($ep eq 'laps' ? 1 : 0);
}
my $want = join(' ', map { "$_=$fed{$_}" } sort @endpoints);
my $got;
my $deadline = time() + 180;
while (time() < $deadline)
{
	$got = join(' ', map { "$_=" . $standby->safe_psql('postgres', "SELECT count(*) FROM f1tel.$_") } sort @endpoints);
	last if $got eq $want;
	sleep 1;
}
is($got, $want, 'the new primary has every record of 9189 once (and the hand-written lap)');
ok(wait_for_sinks($standby), 'the sinks pushed every change');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0',
	'driver_laps equals its definition on the new primary');

# ---- BigQuery: no (lap, version) with two contents, the latest is driver_laps ---------

my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
$standby->safe_psql('postgres', 'CREATE TABLE bq (r jsonb)');
$standby->safe_psql('postgres', "INSERT INTO bq SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
my $k = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int};
is($standby->safe_psql('postgres', "SELECT count(*) - count(DISTINCT ($k, (r->>'version')::bigint)) FROM bq"),
	'0', 'no (lap, version) twice in BigQuery (' . scalar(@$rows) . ' rows)');
is(scalar(@$rows), $standby->safe_psql('postgres', 'SELECT sum(version) FROM f1tel.driver_laps'),
	'BigQuery holds every version of every lap, none the new primary does not know');
is($standby->safe_psql('postgres', q{SELECT r->>'lap_duration' FROM bq WHERE r->>'session_key' = '1' AND r->>'version' = '2'}),
	'222.222', "BigQuery's version 2 of the hand-written lap is the new primary's");
is($standby->safe_psql('postgres', "WITH
	l AS (SELECT session_key, driver_number, lap_number, version, position, name_acronym, lap_duration::numeric,
				 round(extract(epoch FROM lap_end)::numeric, 3) FROM f1tel.driver_laps),
	q AS (SELECT DISTINCT ON ($k) $k, (r->>'version')::bigint, (r->>'position')::int,
				 r->>'name_acronym', (r->>'lap_duration')::numeric, round((r->>'lap_end')::numeric, 3)
			FROM bq ORDER BY $k, (r->>'version')::bigint DESC)
	SELECT (SELECT count(*) FROM (TABLE l EXCEPT ALL TABLE q) d)
		 + (SELECT count(*) FROM (TABLE q EXCEPT ALL TABLE l) d)"), '0',
	"the latest version of each lap in BigQuery is the new primary's driver_laps");

$standby->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
