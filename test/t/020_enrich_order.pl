# test/t/020_enrich_order.pl — f1tel.driver_laps does not depend on the order
# the data arrives in, for every input of it.
#
# The messages, loaded once into a scratch table as jsonb:
#
# - real, from test/data/openf1 (or $F1TEL_DATA), all records of the sessions
#   9189 and 9606: laps, position, drivers, race_control, stints, pit and
#   weather; plus an "opened" version of every lap with (lap_number +
#   driver_number) % 5 = 0 (no duration, sectors or speeds yet: its lap_end
#   is first the next lap's start or its own, which moves the samples, weather
#   and intervals that belong to it) that Kafka delivers before the complete
#   one, as OpenF1's live feed does, and an "opened" version of every stint
#   (lap_end NULL: still running) before the complete one;
# - real, a SUBSET of car_data (the files hold 488k + 109k samples): the
#   samples of three drivers over two or three laps of each session, from 10 s
#   before the first lap starts to 10 s after the last one ends (@WINDOWS
#   below; 9189: driver 1 laps 16-17, the pit stop and the new stint, driver 4
#   laps 1-3, lap 1 opened, lap 3 without a duration, driver 11 laps 49-51,
#   lap 49 opened, lap 51 the last, without a duration; 9606: driver 1 laps
#   29-30, pit stop on 29, opened, new stint from 30, driver 4 laps 61-62,
#   61 opened, 62 the last, driver 81 laps 38-39, pit stop on 38, new stint
#   and opened lap 39): 5431 samples that cross lap boundaries, some of them
#   in no lap.  The 105 samples of 9606 without a date (dead letters in
#   ingest) are left out;
# - HAND-WRITTEN, NOT REAL: intervals (OpenF1 recorded none for these
#   sessions): @INTERVALS below, 36 records of drivers 1, 11 and 77 of 9189
#   spread over the race, with gaps in seconds, NULL, "+1 LAP" and "+2 LAPS"
#   (stored typed, as ingest stores them: NULL seconds and N in *_laps), and
#   four of them with a provisional value delivered first and corrected later.
#
# Event time, for the chronological order: laps at their end (opened laps at
# their start), position, race_control, pit, weather, car_data and intervals
# at their date, drivers an hour before the session.  Stints have no date:
# the opened version at the start of its lap_start lap (when live timing
# first shows it), the complete one at the end of its lap_end lap (when the
# stint is over) -- so that the opened-stint state really occurs mid-race,
# and not only before the session where it would decide nothing.
#
# Then the same messages (9651) are delivered in many orders: chronological
# (batches of 100, and of 1), reverse, "all X first" for each of the eight
# inputs, drivers last, and 24 random shuffles (F1TEL_ORDER_SHUFFLES) with
# random table order within a batch and random batch sizes, log-uniform in
# 1..500, the last two 1..10 (~1760 batches each: 1..3 would double the
# test's time) (fixed seeds, printed) -- each batch applied as the ingest
# worker applies it: one transaction, f1tel.lock_drivers() with the batch's
# drivers and the sessions of its weather, then one upsert statement per table
# (src/ingest/store.c).  Whatever the order, the versions of one key arrive
# oldest first, as Kafka keeps them.  Every run must end with driver_laps
# equal to its view (f1tel.driver_laps_drift, EXCEPT ALL both ways, empty)
# and to the chronological run's result (all columns of driver_laps_v).  The
# chronological result is checked against the files, computed in Perl.  Then
# TRUNCATE of each staging table, and EXPLAIN: the recomputation of a few
# drivers reads the staging tables through their indexes.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP;
use List::Util qw(shuffle max);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use Time::Local qw(timegm);

my $data = data_dir();
BAIL_OUT("recorded sessions not found in $data (set F1TEL_DATA)")
  unless -f "$data/9189/laps.json" && -f "$data/9606/laps.json";
my $t0 = time();

# ---- the files, read in Perl (for the subset and the expected values) -------

my $json = JSON::PP->new->canonical;

# an OpenF1 timestamp (UTC) as integer microseconds since 1970
sub usecs
{
	my ($t) = @_;
	return undef unless defined $t;
	my @p = $t =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:\+00:00|Z)$/
	  or die "unexpected timestamp $t";
	my $frac = defined $p[6] ? substr($p[6] . '000000', 0, 6) : 0;
	return timegm($p[5], $p[4], $p[3], $p[2], $p[1] - 1, $p[0]) * 1_000_000 + $frac;
}

sub read_json { return decode_json(slurp_file($_[0])) }

my (%file, %lap);
foreach my $s (qw(9189 9606))
{
	$file{$s}{$_} = read_json("$data/$s/$_.json") foreach qw(laps stints pit weather);
	$lap{$s}{ $_->{driver_number} }{ $_->{lap_number} } = $_ foreach @{ $file{$s}{laps} };
}

# lap_end as driver_laps_compute() defines it, in microseconds (undef: NULL)
sub lap_end_of
{
	my ($s, $d, $n) = @_;
	my $l = $lap{$s}{$d}{$n};
	my $ds = usecs($l->{date_start});
	my $dur = $l->{lap_duration};
	return $ds + int($dur * 1e6 + ($dur < 0 ? -0.5 : 0.5))
	  if defined $ds && defined $dur && abs($dur) < 1e7;
	my $nx = $lap{$s}{$d}{ $n + 1 };
	return $nx && defined $nx->{date_start} ? usecs($nx->{date_start}) : $ds;
}

# the car_data subset: [session, driver, first lap, last lap]
my @WINDOWS = ([ 9189, 1, 16, 17 ], [ 9189, 4, 1, 3 ], [ 9189, 11, 49, 51 ],
	[ 9606, 1, 29, 30 ], [ 9606, 4, 61, 62 ], [ 9606, 81, 38, 39 ]);
my @car;
foreach my $s (qw(9189 9606))
{
	my %win;
	foreach my $w (grep { $_->[0] == $s } @WINDOWS)
	{
		my ($ws, $d, $a, $b) = @$w;
		$win{$d} = [ usecs($lap{$s}{$d}{$a}{date_start}) - 10_000_000,
			lap_end_of($s, $d, $b) + 10_000_000 ];
	}
	my $text;
	gunzip("$data/$s/car_data.json.gz" => \$text) or die "car_data: $GunzipError";
	# flat objects: the records are found without decoding the 100 MB
	while ($text =~ /(\{[^{}]*\})/g)
	{
		my $r = $1;
		my ($d) = $r =~ /"driver_number":(\d+)/ or next;
		next unless $win{$d};
		my ($date) = $r =~ /"date":"([^"]+)"/ or next;    # null: left out
		my $t = usecs($date);
		push @car, decode_json($r) if $t >= $win{$d}[0] && $t < $win{$d}[1];
	}
}
note sprintf('car_data subset: %d samples (%.1f s)', scalar @car, time() - $t0);

# HAND-WRITTEN intervals of 9189 (not real): driver, time of 2023-11-19 (UTC),
# gap_to_leader, interval, and optionally a provisional gap_to_leader that is
# delivered first and corrected by the record itself later
my @INTERVALS = (
	[ 1, '06:04:30.120', undef, undef ], [ 11, '06:04:32.480', 0.412, 0.412 ],
	[ 77, '06:04:35.010', 1.905, 0.377 ], [ 1, '06:12:00.350', 0, 0 ],
	[ 11, '06:12:02.770', 2.118, 1.001, 9.9 ], [ 77, '06:12:05.200', 11.25, 3.5 ],
	[ 1, '06:19:30.600', 0, 0 ], [ 11, '06:19:32.910', 3.044, 0.84 ],
	[ 77, '06:19:35.440', 19.8, 4.012 ], [ 1, '06:27:00.090', 0, 0 ],
	[ 11, '06:27:02.300', undef, undef ], [ 77, '06:27:05.660', 27.31, '+1 LAP' ],
	[ 1, '06:34:30.720', 0, 0 ], [ 11, '06:34:32.150', 8.5, 2.25 ],
	[ 77, '06:34:35.880', 40.002, 1.7, 45.5 ], [ 1, '06:42:00.400', 0, 0 ],
	[ 11, '06:42:02.640', 6.125, 0.5 ], [ 77, '06:42:05.130', 52.75, 12.6 ],
	[ 1, '06:49:30.810', 0, 0 ], [ 11, '06:49:32.020', 4.41, 4.41 ],
	[ 77, '06:49:35.300', 61.5, 3.2 ], [ 1, '06:57:00.230', 0, 0 ],
	[ 11, '06:57:02.590', 3.9, 1.05 ], [ 77, '06:57:05.770', 74.06, 9.004 ],
	[ 1, '07:04:30.500', 0, 0 ], [ 11, '07:04:32.860', 2.75, 0.33, '+1 LAP' ],
	[ 77, '07:04:35.090', '+1 LAP', 5.5 ], [ 1, '07:12:00.660', 0, 0 ],
	[ 11, '07:12:02.190', 2.5, 0.25 ], [ 77, '07:12:05.420', '+1 LAP', '+1 LAP' ],
	[ 1, '07:19:30.940', 0, 0 ], [ 11, '07:19:32.330', 2.31, 0.2 ],
	[ 77, '07:19:35.610', '+2 LAPS', 14.75, 88.8 ], [ 1, '07:27:00.170', 0, 0 ],
	[ 11, '07:27:02.450', 2.2, 0.1 ], [ 77, '07:27:05.980', '+2 LAPS', '+1 LAP' ]);

# a gap as ingest stores it: (seconds, laps)
sub gap_typed
{
	my ($g) = @_;
	return (undef, undef) unless defined $g;
	return (undef, $1) if $g =~ /^\+(\d+) LAPS?$/;
	return ($g + 0, undef);
}
my @iv_records;
foreach my $r (@INTERVALS)
{
	my ($d, $time, $gap, $int, $prov) = @$r;
	my %rec = (session_key => 9189, meeting_key => 1225, driver_number => $d,
		date => "2023-11-19T$time+00:00");
	@rec{qw(interval interval_laps)} = gap_typed($int);
	if (@$r > 4)
	{
		my %p = %rec;
		@p{qw(gap_to_leader gap_to_leader_laps)} = gap_typed($prov);
		push @iv_records, { %p, _version => 0 };
	}
	@rec{qw(gap_to_leader gap_to_leader_laps)} = gap_typed($gap);
	push @iv_records, { %rec, _version => 1 };
}

my $node = new_plain_node('enrich_order');

# ---- the messages ----------------------------------------------------------

my $load = raw_load_sql($data, [qw(9189 9606)],
	[qw(laps position drivers race_control stints pit weather sessions meetings)]);
$load .= "INSERT INTO enrich_test.raw (topic, j) SELECT 'car_data', j"
  . " FROM jsonb_array_elements(\$cd\$" . $json->encode(\@car) . "\$cd\$::jsonb) j;\n";
$load .= "INSERT INTO enrich_test.raw (topic, j) SELECT 'intervals', j"
  . " FROM jsonb_array_elements(\$iv\$" . $json->encode(\@iv_records) . "\$iv\$::jsonb) j;\n";
$load .= q{
-- one message per row: id is the chronological order (event times: see the
-- header of the test)
CREATE TABLE enrich_test.msgs (
	id				integer PRIMARY KEY,
	topic			text NOT NULL,
	key				text NOT NULL,
	version			integer NOT NULL,
	session_key		integer NOT NULL,
	driver_number	integer,
	ts				timestamptz NOT NULL,
	payload			jsonb NOT NULL
);
CREATE FUNCTION enrich_test.lap_time(p_session text, p_driver text, p_lap text, p_end boolean)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT (r.j->>'date_start')::timestamptz
		   + CASE WHEN p_end THEN coalesce((r.j->>'lap_duration')::float8, 0) ELSE 0 END
			 * interval '1 second'
	  FROM enrich_test.raw r
	 WHERE r.topic = 'laps' AND r.j->>'session_key' = p_session
	   AND r.j->>'driver_number' = p_driver AND r.j->>'lap_number' = p_lap
$$;
CREATE FUNCTION enrich_test.session_time(p_session text, p_field text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT (s.j->>p_field)::timestamptz
	  FROM enrich_test.raw s WHERE s.topic = 'sessions' AND s.j->>'session_key' = p_session
$$;
INSERT INTO enrich_test.msgs
SELECT row_number() OVER (ORDER BY m.ts, m.version, m.ord), m.topic, m.key, m.version,
	   (m.payload->>'session_key')::int, (m.payload->>'driver_number')::int, m.ts,
	   m.payload - '_version'
  FROM (SELECT 'laps' AS topic, 1 AS version, r.ord, r.j AS payload,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'lap_number') AS key,
			   (r.j->>'date_start')::timestamptz
				 + coalesce((r.j->>'lap_duration')::float8, 0) * interval '1 second' AS ts
		  FROM enrich_test.raw r WHERE r.topic = 'laps'
		UNION ALL
		SELECT 'laps', 0, r.ord,
			   r.j || '{"lap_duration": null, "duration_sector_1": null, "duration_sector_2": null,
						"duration_sector_3": null, "i1_speed": null, "i2_speed": null,
						"st_speed": null, "segments_sector_1": null,
						"segments_sector_2": null, "segments_sector_3": null}',
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'lap_number'),
			   (r.j->>'date_start')::timestamptz
		  FROM enrich_test.raw r
		 WHERE r.topic = 'laps' AND ((r.j->>'lap_number')::int + (r.j->>'driver_number')::int) % 5 = 0
		UNION ALL
		SELECT 'position', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'date'),
			   (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'position'
		UNION ALL
		SELECT 'drivers', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number'),
			   enrich_test.session_time(r.j->>'session_key', 'date_start') - interval '1 hour'
		  FROM enrich_test.raw r WHERE r.topic = 'drivers'
		UNION ALL
		SELECT 'race_control', 1, r.ord, r.j, r.ord::text, (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'race_control'
		UNION ALL
		-- stints: opened at the start of lap_start, complete at the end of lap_end
		SELECT 'stints', 0, r.ord, r.j || '{"lap_end": null}',
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'stint_number'),
			   coalesce(enrich_test.lap_time(r.j->>'session_key', r.j->>'driver_number',
											 r.j->>'lap_start', false),
						enrich_test.session_time(r.j->>'session_key', 'date_start'))
		  FROM enrich_test.raw r WHERE r.topic = 'stints' AND r.j->>'lap_end' IS NOT NULL
		UNION ALL
		SELECT 'stints', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'stint_number'),
			   coalesce(enrich_test.lap_time(r.j->>'session_key', r.j->>'driver_number',
											 r.j->>'lap_end', true),
						enrich_test.session_time(r.j->>'session_key', 'date_end'))
		  FROM enrich_test.raw r WHERE r.topic = 'stints'
		UNION ALL
		SELECT 'pit', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'lap_number'),
			   coalesce((r.j->>'date')::timestamptz,
						enrich_test.session_time(r.j->>'session_key', 'date_end'))
		  FROM enrich_test.raw r WHERE r.topic = 'pit'
		UNION ALL
		SELECT 'weather', 1, r.ord, r.j, concat_ws('/', r.j->>'session_key', r.j->>'date'),
			   (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'weather'
		UNION ALL
		SELECT 'car_data', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'date'),
			   (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'car_data'
		UNION ALL
		SELECT 'intervals', (r.j->>'_version')::int, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'date'),
			   (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'intervals') m;

-- sessions and meetings once, for the views
INSERT INTO f1tel.sessions
SELECT (jsonb_populate_record(NULL::f1tel.sessions,
		j || '{"src_topic": "f1_sessions", "src_partition": 0, "src_offset": 0}'
		  || jsonb_build_object('ingested_at', now()))).*
  FROM enrich_test.raw WHERE topic = 'sessions';
INSERT INTO f1tel.meetings
SELECT (jsonb_populate_record(NULL::f1tel.meetings,
		j || '{"src_topic": "f1_meetings", "src_partition": 0, "src_offset": 0}'
		  || jsonb_build_object('ingested_at', now()))).*
  FROM enrich_test.raw WHERE topic = 'meetings';
};

# One batch as the ingest worker writes it: f1tel.lock_drivers() with the
# (session, driver) of every row of a driver input and the session of every
# weather row, then one statement per table, in the given order (one letter
# per table, %letter), the last message of a key winning within the batch.
my %letter = (
	d => 'drivers', l => 'laps', p => 'position', r => 'race_control', s => 'stints',
	t => 'pit', i => 'intervals', w => 'weather', c => 'car_data');
my @inputs = qw(laps position drivers stints pit intervals weather car_data);
my $apply = q{
CREATE FUNCTION enrich_test.apply_batch(p_ids integer[], p_order text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_whole		integer[];
	v_topics	text[];
BEGIN
	SELECT array_agg(m.session_key) FILTER (WHERE m.topic <> 'weather'),
		   array_agg(m.driver_number) FILTER (WHERE m.topic <> 'weather'),
		   array_agg(m.session_key) FILTER (WHERE m.topic = 'weather')
	  INTO v_sessions, v_drivers, v_whole
	  FROM enrich_test.msgs m
	 WHERE m.id = ANY (p_ids)
	   AND m.topic IN ('laps', 'position', 'drivers', 'stints', 'pit', 'intervals',
					   'car_data', 'weather');
	IF v_sessions IS NOT NULL OR v_whole IS NOT NULL THEN
		PERFORM f1tel.lock_drivers(v_sessions, v_drivers, v_whole);
	END IF;
	SELECT array_agg(DISTINCT m.topic) INTO v_topics
	  FROM enrich_test.msgs m WHERE m.id = ANY (p_ids);
	FOR i IN 1 .. length(p_order) LOOP
		CASE substr(p_order, i, 1)
};
foreach my $l (sort keys %letter)
{
	my $t = $letter{$l};
	my $sql = message_upsert_sql($t);
	$apply .= "\t\t\tWHEN '$l' THEN\n\t\t\t\tIF '$t' = ANY (v_topics) THEN\n\t\t\t\t\t$sql;\n\t\t\t\tEND IF;\n";
}
$apply .= q{
		END CASE;
	END LOOP;
END
$$;

-- Delivers the messages p_ids in batches of p_batches[i] messages, batch i
-- writing its tables in the order p_orders[i], one transaction per batch.
CREATE PROCEDURE enrich_test.replay(p_ids integer[], p_batches integer[], p_orders text[])
LANGUAGE plpgsql AS $$
DECLARE
	v_pos		integer := 1;
	v_ids		integer[];
BEGIN
	-- Kafka keeps the order of one key's messages: whatever the order of the
	-- run, a key's versions are delivered oldest first
	SELECT array_agg(v.id ORDER BY p.ord) INTO v_ids
	  FROM (SELECT u.ord, m.topic, m.key,
				   row_number() OVER (PARTITION BY m.topic, m.key ORDER BY u.ord) AS rn
			  FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
			  JOIN enrich_test.msgs m ON m.id = u.id) p
	  JOIN (SELECT m.id, m.topic, m.key,
				   row_number() OVER (PARTITION BY m.topic, m.key ORDER BY m.version, m.id) AS rn
			  FROM enrich_test.msgs m) v
		ON (v.topic, v.key, v.rn) = (p.topic, p.key, p.rn);
	FOR i IN 1 .. cardinality(p_batches) LOOP
		PERFORM enrich_test.apply_batch(v_ids[v_pos : v_pos + p_batches[i] - 1], p_orders[i]);
		COMMIT;
		v_pos := v_pos + p_batches[i];
	END LOOP;
END
$$;

CREATE TABLE enrich_test.expected AS
SELECT * FROM f1tel.driver_laps_v WHERE false;
};

$node->safe_psql('postgres', $load . $apply);
note sprintf('loaded %s messages in %.1f s',
	$node->safe_psql('postgres', q{
		SELECT string_agg(topic || ' ' || n, ', ' ORDER BY topic)
		  FROM (SELECT topic, count(*) AS n FROM enrich_test.msgs GROUP BY topic) x}),
	time() - $t0);
my @chrono = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM enrich_test.msgs ORDER BY id');
my %by_topic;
push @{ $by_topic{$_->[1]} }, $_->[0]
  foreach map { [ split /\|/ ] }
  split /\n/, $node->safe_psql('postgres', 'SELECT id, topic FROM enrich_test.msgs ORDER BY id');
my $nmsgs = scalar @chrono;

# ---- the runs --------------------------------------------------------------

# every column of the view (less version and updated_at, which it has not)
my $cols = $node->safe_psql('postgres', q{
	SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
	  FROM pg_attribute
	 WHERE attrelid = 'f1tel.driver_laps_v'::regclass AND attnum > 0 AND NOT attisdropped});
like($cols, qr/\bsamples\b.*/, "compared columns: $cols");

my $nlaps = 949 + 1179;
my $nruns = 0;

sub fixed_batches
{
	my ($n, $size) = @_;
	my @b;
	while ($n > 0) { my $s = $n < $size ? $n : $size; push @b, $s; $n -= $s; }
	return @b;
}

sub run_order
{
	my ($name, $ids, $batches, $orders) = @_;
	my $start = time();
	# drivers and stints first, then the rest in endpoint order, as the worker
	$orders //= [ ('dslprcitw') x scalar(@$batches) ];
	$node->safe_psql('postgres', q{
		TRUNCATE f1tel.laps, f1tel.position, f1tel.drivers, f1tel.race_control,
				 f1tel.stints, f1tel.pit, f1tel.intervals, f1tel.weather, f1tel.car_data,
				 f1tel.driver_laps, f1tel.driver_laps_deleted});
	$node->safe_psql('postgres',
		    'CALL enrich_test.replay(ARRAY[' . join(',', @$ids) . ']::integer[], ARRAY['
		  . join(',', @$batches) . "]::integer[], ARRAY['" . join("','", @$orders)
		  . "']::text[])");
	my $res = $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM f1tel.driver_laps),
			   (SELECT count(*) FROM f1tel.driver_laps_drift),
			   (SELECT count(*) FROM (SELECT $cols FROM f1tel.driver_laps
									  EXCEPT ALL SELECT * FROM enrich_test.expected) x)
			 + (SELECT count(*) FROM (SELECT * FROM enrich_test.expected
									  EXCEPT ALL SELECT $cols FROM f1tel.driver_laps) x),
			   (SELECT count(*) FROM f1tel.race_control)});
	my ($rows, $drift, $diff, $rc) = split /\|/, $res;
	$nruns++;
	return ($rows, $drift, $diff, $rc, time() - $start);
}

# chronological, in batches of 100: the reference
my ($rows, $drift, $diff, $rc, $secs) =
  run_order('chronological', \@chrono, [ fixed_batches($nmsgs, 100) ]);
is($rows, $nlaps, 'chronological: one driver_laps row per lap of 9189 and 9606');
is($drift, 0, 'chronological: driver_laps equals driver_laps_v');
is($rc, 73 + 61, 'chronological: every race control record stored');
$node->safe_psql('postgres', "INSERT INTO enrich_test.expected SELECT $cols FROM f1tel.driver_laps");
note sprintf('chronological, %d messages in batches of 100: %.1f s', $nmsgs, $secs);

# ---- the chronological result against the files (computed in Perl) ---------

# the real result: the top three of Las Vegas 2023 at the end of lap 50, the
# last full lap (session_result.json: 1 VER, 16 LEC, 11 PER)
is( $node->safe_psql('postgres', q{
		SELECT string_agg(driver_number || ':' || position || ':' || name_acronym, ' '
						  ORDER BY position)
		  FROM f1tel.driver_laps
		 WHERE session_key = 9189 AND lap_number = 50 AND position <= 3}),
	'1:1:VER 16:2:LEC 11:3:PER',
	'9189: positions at the end of lap 50 match the race result');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM f1tel.driver_laps
		 WHERE position IS NULL AND session_key = 9189}),
	'0', '9189: every lap has a position (the grid rows decide lap 1)');

my %got;
foreach my $line (split /\n/, $node->safe_psql('postgres', q{
		SELECT session_key, driver_number, lap_number, stint_number, compound, tyre_age,
			   pit_in, pit_duration, gap_to_leader, gap_to_leader_laps, "interval",
			   interval_laps, air_temperature, track_temperature, rainfall, samples,
			   max_speed, mean_throttle
		  FROM f1tel.driver_laps}))
{
	my @f = split /\|/, $line, -1;
	$got{"$f[0]/$f[1]/$f[2]"} = [ map { $_ eq '' ? undef : $_ } @f[ 3 .. $#f ] ];
}

# compares the column $i of every lap with $want->(session, driver, lap);
# returns the number of laps that differ (and shows the first few)
sub check_laps
{
	my ($what, $i, $want) = @_;
	my ($bad, $n) = (0, 0);
	foreach my $s (qw(9189 9606))
	{
		foreach my $l (@{ $file{$s}{laps} })
		{
			my ($d, $ln) = ($l->{driver_number}, $l->{lap_number});
			my $w = $want->($s, $d, $ln);
			my $g = $got{"$s/$d/$ln"}[$i];
			$n++;
			next if (!defined $w && !defined $g) || (defined $w && defined $g && $w eq $g)
			  || (defined $w && defined $g && $w =~ /^-?[\d.]+(?:e-?\d+)?$/ && $g =~ /^-?[\d.]+/
				&& abs($w - $g) < 1e-9);
			diag("$what of $s/$d/$ln: expected " . ($w // 'NULL') . ', got ' . ($g // 'NULL'))
			  if $bad++ < 5;
		}
	}
	return $bad;
}

# stints: the highest stint_number with lap_start <= lap <= lap_end
sub stint_of
{
	my ($s, $d, $n) = @_;
	my ($best) = sort { $b->{stint_number} <=> $a->{stint_number} }
	  grep { $_->{driver_number} == $d && $_->{lap_start} <= $n
		  && (!defined $_->{lap_end} || $_->{lap_end} >= $n) } @{ $file{$s}{stints} };
	return $best;
}
is(check_laps('stint_number', 0, sub { my $st = stint_of(@_); $st && $st->{stint_number} }),
	0, 'stint_number of every lap as in stints.json');
is(check_laps('compound', 1, sub { my $st = stint_of(@_); $st && $st->{compound} }),
	0, 'compound of every lap as in stints.json');
is( check_laps('tyre_age', 2,
		sub { my $st = stint_of(@_); $st && $st->{tyre_age_at_start} + $_[2] - $st->{lap_start} }),
	0, 'tyre_age of every lap = tyre_age_at_start + lap - lap_start (stints.json)');
is($got{'9189/1/20'}[1] . '/' . $got{'9189/1/20'}[2], 'HARD/3',
	'9189: VER on lap 20 on hards 3 laps old (stint 2 from lap 17 on new tyres)');

# pit: pit_in exactly on the laps of pit.json that have a lap row
my %pit;
foreach my $s (qw(9189 9606))
{
	$pit{"$s/$_->{driver_number}/$_->{lap_number}"} = $_
	  foreach grep { $lap{$s}{ $_->{driver_number} }{ $_->{lap_number} } } @{ $file{$s}{pit} };
}
is( scalar(grep { ($got{$_}[3] // '') eq 't' } keys %got),
	scalar(keys %pit), sprintf('pit_in on %d laps: the pit stops of pit.json with a lap row',
		scalar keys %pit));
is(check_laps('pit_in', 3, sub { $pit{"$_[0]/$_[1]/$_[2]"} ? 't' : 'f' }),
	0, 'pit_in true exactly on the laps of pit.json');
is( check_laps('pit_duration', 4,
		sub { my $p = $pit{"$_[0]/$_[1]/$_[2]"}; $p && ($p->{pit_duration} // $p->{lane_duration}) }),
	0, 'pit_duration as in pit.json');

# the latest record dated <= lap_end among @$recs (sorted by date, [usecs, ...])
sub latest
{
	my ($recs, $t) = @_;
	return undef unless defined $t;
	my ($lo, $hi) = (0, scalar @$recs);
	while ($lo < $hi)
	{
		my $mid = int(($lo + $hi) / 2);
		if ($recs->[$mid][0] <= $t) { $lo = $mid + 1 } else { $hi = $mid }
	}
	return $lo > 0 ? $recs->[ $lo - 1 ] : undef;
}

# weather: the session's latest record dated <= lap_end
my %wx;
foreach my $s (qw(9189 9606))
{
	$wx{$s} = [ sort { $a->[0] <=> $b->[0] }
		  map { [ usecs($_->{date}), $_ ] } @{ $file{$s}{weather} } ];
}
foreach my $c ([ 'air_temperature', 9 ], [ 'track_temperature', 10 ], [ 'rainfall', 11 ])
{
	my ($col, $i) = @$c;
	is( check_laps($col, $i,
			sub { my $w = latest($wx{ $_[0] }, lap_end_of(@_)); $w && $w->[1]{$col} }),
		0, "$col of every lap: the latest weather.json record <= lap_end");
}
is( scalar(grep { defined $got{$_}[9] } keys %got) > 2000 ? 'yes' : 'no', 'yes',
	'weather known on (almost) every lap');

# intervals: the driver's latest (hand-written, final) record dated <= lap_end
my %iv;
foreach my $r (grep { $_->{_version} == 1 } @iv_records)
{
	push @{ $iv{"9189/$r->{driver_number}"} }, [ usecs($r->{date}), $r ];
}
$iv{$_} = [ sort { $a->[0] <=> $b->[0] } @{ $iv{$_} } ] foreach keys %iv;
my %ivcol = (gap_to_leader => 5, gap_to_leader_laps => 6, interval => 7, interval_laps => 8);
foreach my $col (qw(gap_to_leader gap_to_leader_laps interval interval_laps))
{
	is( check_laps($col, $ivcol{$col},
			sub {
				my $list = $iv{"$_[0]/$_[1]"} or return undef;
				my $r = latest($list, lap_end_of(@_));
				$r && $r->[1]{$col};
			}),
		0, "$col of every lap: the driver's latest (hand-written) intervals record <= lap_end");
}
is(join(' ', map { $got{"9189/77/$_"}[6] // '-' } 30, 40, 45, 50), '- 1 2 2',
	'9189: the +1 LAP / +2 LAPS of the hand-written intervals reach driver_laps');

# car_data: samples of the subset dated in [date_start, lap_end), computed
# here for every lap of the subset's drivers
my %samples;
push @{ $samples{"$_->{session_key}/$_->{driver_number}"} }, [ usecs($_->{date}), $_ ]
  foreach @car;
my ($in_laps, $laps_with) = (0, 0);
my %tel;
foreach my $w (@WINDOWS)
{
	my ($s, $d) = @$w;
	foreach my $n (keys %{ $lap{$s}{$d} })
	{
		my $ds = usecs($lap{$s}{$d}{$n}{date_start});
		my $le = lap_end_of($s, $d, $n);
		my @in = grep { defined $ds && defined $le && $_->[0] >= $ds && $_->[0] < $le }
		  @{ $samples{"$s/$d"} };
		my @thr = grep { defined } map { $_->[1]{throttle} } @in;
		my $sum = 0;
		$sum += $_ foreach @thr;
		$tel{"$s/$d/$n"} = [ scalar @in, @in ? max(map { $_->[1]{speed} } @in) : undef,
			@thr ? $sum / @thr : undef ];
		$in_laps += @in;
		$laps_with++ if @in;
	}
}
my $tel_of = sub { my $k = "$_[0]/$_[1]/$_[2]"; $tel{$k} ? $tel{$k} : [ 0, undef, undef ] };
is(check_laps('samples', 12, sub { $tel_of->(@_)->[0] }), 0,
	'samples of every lap: the subset samples with date_start <= date < lap_end');
is(check_laps('max_speed', 13, sub { $tel_of->(@_)->[1] }), 0, 'max_speed of every lap');
is(check_laps('mean_throttle', 14, sub { $tel_of->(@_)->[2] }), 0, 'mean_throttle of every lap');
ok($laps_with >= 12 && $in_laps < @car && $in_laps > @car / 2,
	sprintf('the subset crosses lap boundaries: %d of %d samples in %d laps, the rest in none',
		$in_laps, scalar @car, $laps_with));

# ---- the other orders ---------------------------------------------------------

my %is_drivers = map { $_ => 1 } @{ $by_topic{drivers} };
my @runs = (
	[ 'chronological, one message per batch', \@chrono, [ (1) x $nmsgs ] ],
	[ 'reverse', [ reverse @chrono ], [ fixed_batches($nmsgs, 100) ] ],
	(map {
		my $x = $_;
		my %first = map { $_ => 1 } @{ $by_topic{$x} };
		[ "all $x first", [ @{ $by_topic{$x} }, grep { !$first{$_} } @chrono ],
			[ fixed_batches($nmsgs, 200) ] ]
	} @inputs),
	[ 'drivers last', [ (grep { !$is_drivers{$_} } @chrono), @{ $by_topic{drivers} } ],
		[ fixed_batches($nmsgs, 50) ] ],
);

my $seed = $ENV{F1TEL_ORDER_SEED} // 20231119;
my $nshuffles = $ENV{F1TEL_ORDER_SHUFFLES} // 24;
note "random orders: $nshuffles, seeds $seed + 1.. (set F1TEL_ORDER_SEED, F1TEL_ORDER_SHUFFLES)";
foreach my $i (1 .. $nshuffles)
{
	srand($seed + $i);
	my @ids = shuffle(@chrono);
	# batch sizes log-uniform in 1..500 (small and large batches in one run);
	# the last two runs: 1..10 messages per batch only
	my $max = $i > $nshuffles - 2 ? 10 : 500;
	my (@batches, @orders);
	my $left = scalar @ids;
	while ($left > 0)
	{
		my $b = $max == 10 ? 1 + int(rand(10)) : int(exp(rand(log($max + 1))));
		$b = 1 if $b < 1;
		$b = $left if $b > $left;
		push @batches, $b;
		push @orders, join('', shuffle(sort keys %letter));
		$left -= $b;
	}
	push @runs, [ sprintf('shuffle %d (seed %d, %d batches of 1..%d)', $i, $seed + $i,
			scalar @batches, $max), \@ids, \@batches, \@orders ];
}

foreach my $run (@runs)
{
	my ($name, $ids, $batches, $orders) = @$run;
	my ($rows, $drift, $diff, $rc, $secs) = run_order($name, $ids, $batches, $orders);
	ok($drift == 0 && $diff == 0 && $rows == $nlaps,
		sprintf('%s: driver_laps equals its view and the chronological result (%.1f s)',
			$name, $secs))
	  or diag("rows $rows, rows differing from the view $drift, from the chronological run $diff");
}

# ---- TRUNCATE ----------------------------------------------------------------

foreach my $c (
	[ 'stints', 'stint_number IS NULL AND compound IS NULL AND tyre_age IS NULL' ],
	[ 'pit', 'NOT pit_in AND pit_duration IS NULL' ],
	[ 'weather', 'air_temperature IS NULL AND track_temperature IS NULL AND rainfall IS NULL' ],
	[ 'intervals', 'gap_to_leader IS NULL AND "interval" IS NULL'
		. ' AND gap_to_leader_laps IS NULL AND interval_laps IS NULL' ],
	[ 'car_data', 'samples = 0 AND max_speed IS NULL AND mean_throttle IS NULL'
		. ' AND full_throttle_share IS NULL AND brake_share IS NULL AND drs_open_share IS NULL' ],
	[ 'position', 'position IS NULL' ],
	[ 'drivers', 'name_acronym IS NULL AND full_name IS NULL AND team_name IS NULL' ])
{
	my ($t, $cond) = @$c;
	my $before = $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE NOT ($cond)) FROM f1tel.driver_laps");
	cmp_ok($before, '>', 0, "before TRUNCATE $t: $before laps have its columns");
	$node->safe_psql('postgres', "TRUNCATE f1tel.$t");
	is( $node->safe_psql('postgres', "SELECT count(*) FILTER (WHERE $cond) || '/' || count(*)"
			  . ' || \'/\' || (SELECT count(*) FROM f1tel.driver_laps_drift) FROM f1tel.driver_laps'),
		"$nlaps/$nlaps/0",
		"TRUNCATE $t: its columns gone from driver_laps, no drift");
}
$node->safe_psql('postgres', 'TRUNCATE f1tel.laps');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'),
	'0', 'TRUNCATE laps: driver_laps empty');

# ---- cost: the recomputation reads through the indexes ----------------------

run_order('chronological (for EXPLAIN)', \@chrono, [ fixed_batches($nmsgs, 500) ]);
$node->safe_psql('postgres', 'ANALYZE');

# EXPLAIN of the recomputation of the ranges $keys, after the SQL $before (in
# the same transaction, rolled back)
sub recompute_plan
{
	my ($keys, $before) = @_;
	my $plan = $node->safe_psql('postgres', qq{
		BEGIN;
		$before;
		EXPLAIN (COSTS OFF)
		SELECT c.*
		  FROM unnest(ARRAY[ROW$keys]::f1tel.lap_range[]) k
		 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
													  k.lap_from, k.lap_to) c;
		ROLLBACK});
	return $plan;
}

# drivers (40 rows) and the hand-written intervals (36) fill one page each,
# which the planner rightly reads whole; so the plans are checked twice: as
# they are, for the tables of real size, and with hand-written fillers of 30
# other sessions (600 drivers, 12000 intervals, rolled back), for all six
my $fillers = q{
	INSERT INTO f1tel.drivers (session_key, driver_number, full_name,
							   src_topic, src_partition, src_offset)
	SELECT s, d, 'filler', 'test', 0, 0
	  FROM generate_series(1, 30) s, generate_series(1, 20) d;
	INSERT INTO f1tel.intervals (session_key, driver_number, date, gap_to_leader,
								 src_topic, src_partition, src_offset)
	SELECT s, d, '2023-11-19 06:00+00'::timestamptz + i * interval '4 s', 1.5, 'test', 0, 0
	  FROM generate_series(1, 30) s, generate_series(1, 20) d, generate_series(1, 20) i;
	ANALYZE f1tel.drivers, f1tel.intervals};
foreach my $keys ('(9189, 1, 16, 17)',
	'(9189, 1, -2147483648, 2147483647), ROW(9606, 4, 60, 62)')
{
	(my $what = $keys) =~ s/, ROW/, /g;
	foreach my $case ([ 'SELECT 1', '', [qw(laps position car_data weather)] ],
		[ $fillers, ', with fillers', [qw(laps position car_data weather drivers intervals)] ])
	{
		my ($before, $with, $tables) = @$case;
		my $plan = recompute_plan($keys, $before);
		my $list = join('|', @$tables);
		# stints and pit are tiny: the planner may read them whole
		unlike($plan, qr/Seq Scan on (?:$list)\b/,
			"recompute of $what$with: no sequential scan of " . join(', ', @$tables))
		  or diag($plan);
		# the ranges' keys are the index condition of every read of laps (not
		# a whole-index scan joined with the keys afterwards)
		my @laps_scans = $plan =~ /(Scan\b[^\n]* on laps \w+\n[^\n]*)/g;
		ok( @laps_scans && !grep({ !/\n\s*Index Cond: \(\(session_key = (?:k|l0)\.session_key\).*driver_number = (?:k|l0)\.driver_number/ } @laps_scans),
			"recompute of $what$with: every read of laps is an index probe by the ranges' keys")
		  or diag($plan);
		foreach my $t (@$tables)
		{
			like($plan,
				qr/(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) ${t}_pkey\b/,
				"recompute of $what$with: $t read through ${t}_pkey");
		}
	}
}
$node->safe_psql('postgres', 'ANALYZE f1tel.drivers');
my $plan = $node->safe_psql('postgres', q{
	EXPLAIN (COSTS OFF)
	SELECT dl.lap_number
	  FROM f1tel.driver_laps dl
	 WHERE dl.session_key = 9189 AND dl.driver_number = 1
	   AND dl.lap_end >= '2023-11-19 07:00:00+00' AND dl.lap_end < '2023-11-19 07:05:00+00'});
like($plan, qr/driver_laps_lap_end_idx/, 'laps a position decides are found by driver_laps_lap_end_idx')
  or diag($plan);
# the probe of car_data_sync (triggers.sql), with one driver's samples
$plan = $node->safe_psql('postgres', q{
	EXPLAIN (COSTS OFF)
	SELECT dl.lap_number
	  FROM unnest(ARRAY[9189], ARRAY[1], ARRAY['2023-11-19 06:33:20+00'::timestamptz],
				  ARRAY['2023-11-19 06:37:20+00'::timestamptz]) AS c(s, d, lo, hi)
	  JOIN f1tel.driver_laps dl
		ON dl.session_key = c.s
	   AND dl.driver_number = c.d
	   AND dl.lap_end > c.lo
	   AND dl.date_start <= c.hi});
like($plan, qr/driver_laps_lap_end_idx/,
	'laps a car_data statement decides are found by driver_laps_lap_end_idx')
  or diag($plan);
unlike($plan, qr/Seq Scan on driver_laps/, 'car_data probe: no sequential scan of driver_laps')
  or diag($plan);

note sprintf('total %.1f s: %d runs of %d messages', time() - $t0, $nruns, $nmsgs);
$node->stop;
done_testing();
