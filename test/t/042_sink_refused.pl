# test/t/042_sink_refused.pl — a row BigQuery refuses for good goes to
# f1tel.sink_dead_letters and does not hold up the rest.
#
# The BigQuery table driver_laps is created beforehand (by this test, over
# the REST API) with position REQUIRED, so every lap version whose position
# is still unknown is invalid for BigQuery.  With skipInvalidRows=false the
# server answers "invalid" for those and "stopped" for the others of the same
# request; the sink must dead-letter the invalid ones and send the stopped
# ones again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();

my @fields = map { { name => $_->[0], type => $_->[1], mode => $_->[2] // 'NULLABLE' } } (
	[ 'session_key', 'INT64', 'REQUIRED' ], [ 'meeting_key', 'INT64' ], [ 'driver_number', 'INT64', 'REQUIRED' ],
	[ 'lap_number', 'INT64', 'REQUIRED' ], [ 'date_start', 'TIMESTAMP' ], [ 'lap_duration', 'FLOAT64' ],
	[ 'duration_sector_1', 'FLOAT64' ], [ 'duration_sector_2', 'FLOAT64' ], [ 'duration_sector_3', 'FLOAT64' ],
	[ 'i1_speed', 'INT64' ], [ 'i2_speed', 'INT64' ], [ 'st_speed', 'INT64' ], [ 'is_pit_out_lap', 'BOOL' ],
	[ 'lap_end', 'TIMESTAMP' ], [ 'position', 'INT64', 'REQUIRED' ], [ 'name_acronym', 'STRING' ],
	[ 'full_name', 'STRING' ], [ 'team_name', 'STRING' ], [ 'team_colour', 'STRING' ],
	[ 'version', 'INT64', 'REQUIRED' ], [ 'updated_at', 'TIMESTAMP' ], [ 'deleted', 'BOOL' ]);
my ($st) = bq_call($bq, 'POST', '/bigquery/v2/projects/f1tel-test/datasets',
	{ datasetReference => { projectId => 'f1tel-test', datasetId => 'f1' } });
is($st, 200, 'dataset created');
($st) = bq_call($bq, 'POST', '/bigquery/v2/projects/f1tel-test/datasets/f1/tables',
	{ tableReference => { projectId => 'f1tel-test', datasetId => 'f1', tableId => 'driver_laps' },
	  schema => { fields => \@fields } });
is($st, 200, 'driver_laps created with position REQUIRED');

my $node = new_node('refused', broker => $broker, conf => sink_conf($bq));
is(run_feed($broker, sessions => ['9606'], endpoints => [qw(sessions meetings drivers laps position)]), 0,
	'feed replayed 9606');
$node->poll_query_until('postgres', q{SELECT (SELECT count(*) FROM f1tel.driver_laps) = 1179
	AND (SELECT count(*) FROM f1tel.position) = 396 AND (SELECT count(*) FROM f1tel.drivers) = 20})
  or die 'not ingested';
ok(wait_for_sinks($node, 180), 'nothing left queued: pushed or refused');

my $dead = $node->safe_psql('postgres', q{SELECT count(*) FROM f1tel.sink_dead_letters WHERE sink = 'bigquery'});
cmp_ok($dead, '>', 0, "$dead row versions refused (position unknown)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM f1tel.sink_dead_letters
	WHERE sink = 'bigquery' AND (row_data->>'position' IS NOT NULL OR reason NOT LIKE 'invalid%')}),
	'0', 'every refused row has no position, with the reason "invalid"');
is($node->safe_psql('postgres', q{SELECT dead_letters FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	$dead, 'sink_status counts them');

# every lap whose latest version has a position is in BigQuery at that version
my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
my %in_bq = map { join(':', @$_{qw(session_key driver_number lap_number version)}) => 1 } @$rows;
my @want = split /\n/, $node->safe_psql('postgres', q{
	SELECT session_key || ':' || driver_number || ':' || lap_number || ':' || version
	FROM f1tel.driver_laps WHERE position IS NOT NULL});
is(scalar(grep { !$in_bq{$_} } @want), 0, scalar(@want) . ' laps with a position are in BigQuery at their latest version');
is(scalar(grep { !defined $_->{position} } @$rows), 0, 'no BigQuery row lacks a position');
# the laps whose latest version has no position are dead letters at that version
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM f1tel.driver_laps dl
	WHERE dl.position IS NULL AND NOT EXISTS (
		SELECT 1 FROM f1tel.sink_dead_letters d
		WHERE (d.row_data->>'session_key')::int = dl.session_key AND (d.row_data->>'driver_number')::int = dl.driver_number
		  AND (d.row_data->>'lap_number')::int = dl.lap_number AND d.version = dl.version)}),
	'0', 'every lap without a position is a dead letter at its latest version');

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
