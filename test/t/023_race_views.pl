# test/t/023_race_views.pl — the race views (src/enrich/race_views.sql) on
# the real sessions 9189 and 9606.
#
# Each recorded file of the two sessions (test/data/openf1, or $F1TEL_DATA;
# car_data and location left out) goes through f1tel.ingest_message() as one
# message, as the ingest worker decodes and stores it, and the enrichment
# triggers build driver_laps.  Then the views are checked against facts the
# files give, computed here in Perl from the JSON: the top three of the
# timing tower equal session_result.json (9606's winner, who has no position
# record, placed by the laps), each driver's best lap is the lowest
# lap_duration of laps.json, pit stop counts equal pit.json, every stint
# equals stints.json, the overtakes of overtakes.json all have both acronyms,
# the weather rows equal weather.json, and the sector flags of each driver's
# last lap equal the colours worked out here from laps.json by the rule the
# view documents.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::Local qw(timegm);

my $data = data_dir();
BAIL_OUT("recorded sessions not found in $data (set F1TEL_DATA)")
  unless -f "$data/9189/laps.json" && -f "$data/9606/laps.json";

my @sessions = qw(9189 9606);
my @files = qw(meetings sessions drivers laps position race_control pit stints weather
  overtakes session_result starting_grid);

my $node = new_plain_node('race_views');
sub psql { return $node->safe_psql('postgres', $_[0]) }

my %json;
foreach my $s (@sessions)
{
	$json{$s}{$_} = decode_json(slurp_file("$data/$s/$_.json")) foreach @files;
}

# ---- load: one message per file ---------------------------------------------

foreach my $s (@sessions)
{
	foreach my $f (@files)
	{
		my $r = psql(qq{
			SELECT r.rows_stored || '/' || coalesce(r.dead_letter, '')
			  FROM f1tel.ingest_message(
					(SELECT e.topic FROM f1tel.endpoints() e WHERE e.endpoint = '$f' LIMIT 1),
					pg_read_binary_file('$data/$s/$f.json')) r});
		is($r, scalar(@{ $json{$s}{$f} }) . '/', "$s/$f.json: every record stored");
	}
}
is(psql('SELECT count(*) FROM f1tel.driver_laps_drift'), '0', 'driver_laps equals its view');

# ---- timing: the top three, best laps, pit stops ----------------------------

my %acronym;
foreach my $s (@sessions)
{
	$acronym{$s}{ $_->{driver_number} } = $_->{name_acronym} foreach @{ $json{$s}{drivers} };
}

foreach my $s (@sessions)
{
	my @top = sort { $a->{position} <=> $b->{position} }
	  grep { defined $_->{position} && $_->{position} <= 3 } @{ $json{$s}{session_result} };
	my $want = join("\n", map { "$_->{position}|$_->{driver_number}|$acronym{$s}{$_->{driver_number}}" } @top);
	is(psql("SELECT position, driver_number, name_acronym FROM f1tel.timing
			 WHERE session_key = $s AND position <= 3"),
		$want, "$s: the top three of the tower equal session_result.json");
}
is(psql("SELECT string_agg(name_acronym, ' ' ORDER BY position) FROM f1tel.timing
		 WHERE session_key = 9189 AND position <= 3"), 'VER LEC PER', '9189: VER, LEC, PER');
is(psql("SELECT position || ' ' || name_acronym || ' ' || position_source FROM f1tel.timing
		 WHERE session_key = 9606 AND driver_number = 4"), '1 NOR laps',
	'9606: NOR, who has no position record, is P1 by the laps');
is(psql("SELECT count(*) FROM f1tel.timing WHERE session_key IN (9189, 9606)"), '40',
	'one tower row per driver');

foreach my $s (@sessions)
{
	my (%best, %pits);
	foreach my $l (@{ $json{$s}{laps} })
	{
		next unless defined $l->{lap_duration};
		my $d = $l->{driver_number};
		$best{$d} = $l->{lap_duration} if !defined $best{$d} || $l->{lap_duration} < $best{$d};
	}
	$pits{ $_->{driver_number} }++ foreach @{ $json{$s}{pit} };

	my %got = map { my @c = split /\|/; ($c[0] => \@c) }
	  split /\n/, psql("SELECT driver_number, best_lap_duration, pit_stops,
								(SELECT count(*) FROM f1tel.pit_stops p
								  WHERE p.session_key = t.session_key
									AND p.driver_number = t.driver_number)
						  FROM f1tel.timing t WHERE session_key = $s");
	my @bad_best = grep { !defined $got{$_} || $got{$_}[1] != $best{$_} } sort keys %best;
	is(scalar(@bad_best), 0, "$s: best lap of each of " . scalar(keys %best)
		  . " drivers is the min lap_duration of laps.json") or diag("differ: @bad_best");
	my @bad_pits = grep { $got{$_}[2] != ($pits{$_} // 0) || $got{$_}[3] != ($pits{$_} // 0) }
	  sort keys %got;
	is(scalar(@bad_pits), 0, "$s: pit stops per driver (timing and pit_stops) equal pit.json ("
		  . scalar(@{ $json{$s}{pit} }) . ' stops)') or diag("differ: @bad_pits");
}

# ---- strategy equals stints.json --------------------------------------------

foreach my $s (@sessions)
{
	my $want = join("\n", map {
			join('|', $_->{driver_number}, $_->{stint_number}, $_->{compound}, $_->{lap_start},
				$_->{lap_end}, $_->{lap_end} - $_->{lap_start} + 1, $_->{tyre_age_at_start},
				$_->{tyre_age_at_start} + $_->{lap_end} - $_->{lap_start})
		} sort { $a->{driver_number} <=> $b->{driver_number} || $a->{stint_number} <=> $b->{stint_number} }
		  @{ $json{$s}{stints} });
	is(psql("SELECT driver_number, stint_number, compound, lap_start, lap_end, laps,
					tyre_age_at_start, tyre_age_at_end
			   FROM f1tel.strategy WHERE session_key = $s ORDER BY driver_number, stint_number"),
		$want, "$s: strategy equals stints.json (" . scalar(@{ $json{$s}{stints} }) . ' stints)');
}
is(psql("SELECT string_agg(compound || ' ' || lap_start || '-' || lap_end, ', ' ORDER BY stint_number)
		   FROM f1tel.strategy WHERE session_key = 9189 AND driver_number = 1"),
	'MEDIUM 1-16, HARD 17-26, HARD 27-50', '9189: VER medium, hard, hard');

# ---- overtakes and weather --------------------------------------------------

my %overtakes = (9189 => 341, 9606 => 216);
foreach my $s (@sessions)
{
	is(scalar(@{ $json{$s}{overtakes} }), $overtakes{$s}, "$s: overtakes.json has $overtakes{$s}");
	is(psql("SELECT count(*) || '/' || count(*) FILTER (WHERE overtaking_acronym IS NULL
													   OR overtaken_acronym IS NULL)
			   FROM f1tel.overtakes_v WHERE session_key = $s"),
		"$overtakes{$s}/0", "$s: overtakes_v has $overtakes{$s} rows, none without an acronym");
	my $w = $json{$s}{weather};
	is(psql("SELECT count(*) || '/' || count(*) FILTER (WHERE rain) || '/' || count(meeting_name)
			   FROM f1tel.weather_v WHERE session_key = $s"),
		scalar(@$w) . '/' . scalar(grep { $_->{rainfall} } @$w) . '/' . scalar(@$w),
		"$s: weather_v has the rows and rain of weather.json, each with its meeting");
}

# ---- sector flags, worked out from laps.json ---------------------------------

# microseconds since the epoch of an OpenF1 date
sub usecs
{
	my ($t) = @_;
	my ($y, $mo, $d, $h, $mi, $sec, $frac) =
	  $t =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?/ or die "bad date $t";
	$frac = substr(($frac // '') . '000000', 0, 6);
	return timegm($sec, $mi, $h, $d, $mo - 1, $y) * 1_000_000 + $frac;
}

# The flags of each driver's last lap, by the rule of f1tel.timing, from the
# laps of laps.json that started at or before $cut (all when undef).
sub want_flags
{
	my ($s, $cut) = @_;
	my (%laps, @all);
	foreach (@{ $json{$s}{laps} })
	{
		push @{ $laps{ $_->{driver_number} } }, {%$_}
		  if !defined $cut || usecs($_->{date_start}) <= $cut;
	}
	foreach my $d (keys %laps)
	{
		my %by = map { ($_->{lap_number} => $_) } @{ $laps{$d} };
		foreach my $l (@{ $laps{$d} })
		{
			my $next = $by{ $l->{lap_number} + 1 };
			$l->{end} = defined $l->{lap_duration}
			  ? usecs($l->{date_start}) + sprintf('%.0f', $l->{lap_duration} * 1e6)
			  : usecs(($next // $l)->{date_start});
			push @all, $l;
		}
	}
	my @want;
	foreach my $d (sort { $a <=> $b } keys %laps)
	{
		my ($last) = sort { $b->{lap_number} <=> $a->{lap_number} }
		  grep { defined $_->{lap_duration} } @{ $laps{$d} };
		next unless $last;
		my @flags;
		foreach my $n (1 .. 3)
		{
			my $f = "duration_sector_$n";
			my $t = $last->{$f};
			if (!defined $t) { push @flags, ''; next }
			my ($overall, $own) = (9e99, 9e99);
			foreach (@all)
			{
				next unless defined $_->{$f};
				if ($_->{driver_number} == $d)
				{
					next unless $_->{lap_number} <= $last->{lap_number};
					$own = $_->{$f} if $_->{$f} < $own;
				}
				else
				{
					next unless $_->{end} <= $last->{end};
				}
				$overall = $_->{$f} if $_->{$f} < $overall;
			}
			push @flags, $t <= $overall ? 'overall_best' : $t <= $own ? 'personal_best' : 'none';
		}
		push @want, join('|', $d, $last->{lap_number}, @flags);
	}
	return @want;
}

# after the race, and as the tower stood at three moments of 9189 (the later
# laps deleted in a transaction rolled back)
my @cuts = ([ 9189, undef ], [ 9606, undef ], [ 9189, '2023-11-19T06:09:00' ],
	[ 9189, '2023-11-19T06:40:00' ], [ 9189, '2023-11-19T07:10:00' ]);
my %seen;
foreach my $c (@cuts)
{
	my ($s, $cut) = @$c;
	my @want = want_flags($s, defined $cut ? usecs($cut) : undef);
	my $del = defined $cut
	  ? "DELETE FROM f1tel.laps WHERE session_key = $s AND date_start > '$cut+00';" : '';
	my $got = psql("BEGIN; $del
		SELECT driver_number, last_lap_number, sector_1_flag, sector_2_flag, sector_3_flag
		  FROM f1tel.timing WHERE session_key = $s ORDER BY driver_number;
		ROLLBACK;");
	my %count;
	$count{$_}++ foreach grep { defined && length } map { (split /\|/, $_, -1)[ 2 .. 4 ] } @want;
	$seen{$_} += $count{$_} foreach keys %count;
	is($got, join("\n", @want), "$s " . ($cut // 'after the race')
		  . ": sector flags of each driver's last lap as worked out from laps.json ("
		  . join(', ', map { "$_ $count{$_}" } sort keys %count) . ')');
}
ok($seen{overall_best} && $seen{personal_best} && $seen{none}, 'the flags checked include each colour');
is(psql('SELECT count(*) FROM f1tel.laps'), scalar(@{ $json{9189}{laps} }) + scalar(@{ $json{9606}{laps} }),
	'every lap back after the rollbacks');

$node->stop;
done_testing();
