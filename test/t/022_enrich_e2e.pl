# test/t/022_enrich_e2e.pl — end to end: f1tel-feed replays 9189 through the
# broker; the ingest worker and the enrichment triggers build driver_laps.
#
# driver_laps must have one row per lap (949), equal the view that defines it,
# and the positions of the top three at the end of their last full lap must
# match the race result in session_result.json.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 8);
my $node = new_node('enrich', broker => $broker);

is(run_feed($broker, sessions => ['9189'],
	endpoints => [qw(sessions meetings drivers laps position race_control)]), 0, 'feed replayed 9189');
$node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM f1tel.laps) = 949 AND (SELECT count(*) FROM f1tel.position) = 548
	   AND (SELECT count(*) FROM f1tel.drivers) = 20 AND (SELECT count(*) FROM f1tel.race_control) = 73})
  or die 'staging tables incomplete';

is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps WHERE session_key = 9189'),
	'949', 'driver_laps has one row per lap: 949');
my $cols = 'session_key, driver_number, lap_number, date_start, lap_duration, lap_end, position, name_acronym, team_name, team_colour';
is($node->safe_psql('postgres', "SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL SELECT $cols FROM f1tel.driver_laps_v)
	UNION ALL
	(SELECT $cols FROM f1tel.driver_laps_v EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"),
	'0', 'driver_laps equals its defining view');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps WHERE name_acronym IS NULL'),
	'0', 'every lap has its driver');

my $result = decode_json(slurp_file(data_dir() . '/9189/session_result.json'));
my @top = sort { $a->{position} <=> $b->{position} } grep { defined $_->{position} && $_->{position} <= 3 } @$result;
is(scalar(@top), 3, 'session_result.json names the top three');
foreach my $r (@top)
{
	my $pos = $node->safe_psql('postgres', qq{
		SELECT position FROM f1tel.driver_laps
		WHERE session_key = 9189 AND driver_number = $r->{driver_number} AND lap_duration IS NOT NULL
		ORDER BY lap_number DESC LIMIT 1});
	is($pos, $r->{position},
		"driver $r->{driver_number}: position $r->{position} at the end of the last full lap, as in the result");
}

$node->stop;
stop_broker($broker);
done_testing();
