# test/t/020_enrich_order.pl — f1tel.driver_laps does not depend on the order
# the data arrives in.
#
# The real sessions 9189 and 9606 (laps, position, drivers and race_control
# from test/data/openf1, or $F1TEL_DATA) are loaded once into a scratch
# table as jsonb, plus an "opened" version of every fifth lap (no duration,
# sectors or speeds yet) that Kafka delivers before the complete one, as
# OpenF1's live feed does.  Then the same messages are delivered in many
# orders -- chronological (in batches of 100 and of 1), reverse, all laps
# first, all positions first, drivers last, and 24 random shuffles with random
# batch sizes and random table order within a batch (fixed seeds, printed) --
# each batch applied as the ingest worker applies it: one transaction, the
# advisory locks of its drivers taken in sorted order, then one upsert
# statement per table (src/ingest/store.c).  Whatever the order, the versions
# of one key arrive oldest first, as Kafka keeps them.  Every run must end
# with driver_laps equal to its view (f1tel.driver_laps_drift, EXCEPT ALL
# both ways, empty) and to the chronological run's result (without version
# and updated_at).  Then TRUNCATE of each staging table, and EXPLAIN: the
# recomputation of a few drivers reads the staging tables through their
# indexes only.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use List::Util qw(shuffle);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $data = data_dir();
BAIL_OUT("recorded sessions not found in $data (set F1TEL_DATA)")
  unless -f "$data/9189/laps.json" && -f "$data/9606/laps.json";

my $node = new_plain_node('enrich_order');

# ---- the messages ----------------------------------------------------------

my $load = raw_load_sql($data, [qw(9189 9606)],
	[qw(laps position drivers race_control sessions meetings)]);
$load .= q{
-- one message per row: id is the chronological order (by event time: lap end,
-- record date, drivers an hour before the session starts)
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
INSERT INTO enrich_test.msgs
SELECT row_number() OVER (ORDER BY m.ts, m.version, m.ord), m.topic, m.key, m.version,
	   m.session_key, m.driver_number, m.ts, m.payload
  FROM (SELECT 'laps' AS topic, 1 AS version, r.ord, r.j AS payload,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'lap_number') AS key,
			   (r.j->>'session_key')::int AS session_key, (r.j->>'driver_number')::int AS driver_number,
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
			   (r.j->>'session_key')::int, (r.j->>'driver_number')::int,
			   (r.j->>'date_start')::timestamptz
		  FROM enrich_test.raw r
		 WHERE r.topic = 'laps' AND ((r.j->>'lap_number')::int + (r.j->>'driver_number')::int) % 5 = 0
		UNION ALL
		SELECT 'position', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'date'),
			   (r.j->>'session_key')::int, (r.j->>'driver_number')::int, (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'position'
		UNION ALL
		SELECT 'drivers', 1, r.ord, r.j,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number'),
			   (r.j->>'session_key')::int, (r.j->>'driver_number')::int,
			   (SELECT (s.j->>'date_start')::timestamptz - interval '1 hour'
				  FROM enrich_test.raw s
				 WHERE s.topic = 'sessions' AND s.j->>'session_key' = r.j->>'session_key')
		  FROM enrich_test.raw r WHERE r.topic = 'drivers'
		UNION ALL
		SELECT 'race_control', 1, r.ord, r.j, r.ord::text,
			   (r.j->>'session_key')::int, (r.j->>'driver_number')::int, (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'race_control') m;

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

# One batch as the ingest worker writes it: advisory locks of the batch's
# drivers in sorted order, then one statement per table, in the given order
# (d drivers, l laps, p position, r race_control), the last message of a key
# winning within the batch.
my %letter = (d => 'drivers', l => 'laps', p => 'position', r => 'race_control');
my $apply = q{
CREATE FUNCTION enrich_test.apply_batch(p_ids integer[], p_order text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	k			record;
	v_topics	text[];
BEGIN
	FOR k IN SELECT DISTINCT m.session_key, m.driver_number
			   FROM enrich_test.msgs m
			  WHERE m.id = ANY (p_ids) AND m.topic IN ('laps', 'position', 'drivers')
			  ORDER BY 1, 2
	LOOP
		PERFORM pg_advisory_xact_lock(k.session_key, k.driver_number);
	END LOOP;
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

my $t0 = time();
$node->safe_psql('postgres', $load . $apply);
note sprintf('loaded %s messages in %.1f s',
	$node->safe_psql('postgres', q{
		SELECT string_agg(topic || ' ' || n, ', ' ORDER BY topic)
		  FROM (SELECT topic, count(*) AS n FROM enrich_test.msgs GROUP BY topic) x}),
	time() - $t0);
my @chrono = @{ [ split /\n/, $node->safe_psql('postgres', 'SELECT id FROM enrich_test.msgs ORDER BY id') ] };
my %by_topic;
push @{ $by_topic{$_->[1]} }, $_->[0]
  foreach map { [ split /\|/ ] }
  split /\n/, $node->safe_psql('postgres', 'SELECT id, topic FROM enrich_test.msgs ORDER BY id');

# ---- the runs --------------------------------------------------------------

my $cols = 'session_key, meeting_key, driver_number, lap_number, date_start, lap_duration,'
  . ' duration_sector_1, duration_sector_2, duration_sector_3, i1_speed, i2_speed, st_speed,'
  . ' is_pit_out_lap, lap_end, position, name_acronym, full_name, team_name, team_colour';

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
	$orders //= [ ('dlpr') x scalar(@$batches) ];
	$node->safe_psql('postgres', q{
		TRUNCATE f1tel.laps, f1tel.position, f1tel.drivers, f1tel.race_control,
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
	my $secs = time() - $start;
	return ($rows, $drift, $diff, $rc, $secs);
}

# chronological, in batches of 100: the reference
my ($rows, $drift, $diff, $rc, $secs) =
  run_order('chronological', \@chrono, [ fixed_batches(scalar @chrono, 100) ]);
is($rows, 949 + 1179, 'chronological: one driver_laps row per lap of 9189 and 9606');
is($drift, 0, 'chronological: driver_laps equals driver_laps_v');
is($rc, 73 + 61, 'chronological: every race control record stored');
$node->safe_psql('postgres', "INSERT INTO enrich_test.expected SELECT $cols FROM f1tel.driver_laps");
note sprintf('chronological: %.1f s', $secs);

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

my @runs = (
	[ 'chronological, one message per batch', \@chrono, [ (1) x scalar @chrono ] ],
	[ 'reverse', [ reverse @chrono ], [ fixed_batches(scalar @chrono, 100) ] ],
	[
		'all laps first',
		[ map { @{ $by_topic{$_} } } qw(laps position drivers race_control) ],
		[ fixed_batches(scalar @chrono, 200) ]
	],
	[
		'all positions first',
		[ map { @{ $by_topic{$_} } } qw(position laps drivers race_control) ],
		[ fixed_batches(scalar @chrono, 200) ]
	],
	[
		'drivers last',
		[ (grep { my $i = $_; !grep { $_ == $i } @{ $by_topic{drivers} } } @chrono),
		  @{ $by_topic{drivers} } ],
		[ fixed_batches(scalar @chrono, 50) ]
	],
);

my $seed = $ENV{F1TEL_ORDER_SEED} // 20231119;
note "random orders: seed $seed (set F1TEL_ORDER_SEED to change it)";
foreach my $i (1 .. 24)
{
	srand($seed + $i);
	my @ids = shuffle(@chrono);
	# batch sizes log-uniform in 1..500 (small and large batches in one run);
	# the last two runs: 1..3 messages per batch only
	my $max = $i > 22 ? 3 : 500;
	my (@batches, @orders);
	my $left = scalar @ids;
	while ($left > 0)
	{
		my $b = $max == 3 ? 1 + int(rand(3)) : int(exp(rand(log($max + 1))));
		$b = 1 if $b < 1;
		$b = $left if $b > $left;
		push @batches, $b;
		push @orders, join('', shuffle(qw(d l p r)));
		$left -= $b;
	}
	push @runs, [ sprintf('shuffle %d (seed %d, %d batches of 1..%d)', $i, $seed + $i,
			scalar @batches, $max), \@ids, \@batches, \@orders ];
}

foreach my $run (@runs)
{
	my ($name, $ids, $batches, $orders) = @$run;
	my ($rows, $drift, $diff, $rc, $secs) = run_order($name, $ids, $batches, $orders);
	ok($drift == 0 && $diff == 0 && $rows == 949 + 1179,
		sprintf('%s: driver_laps equals its view and the chronological result (%.1f s)',
			$name, $secs))
	  or diag("rows $rows, rows differing from the view $drift, from the chronological run $diff");
}

# ---- TRUNCATE ----------------------------------------------------------------

$node->safe_psql('postgres', 'TRUNCATE f1tel.position');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE position IS NOT NULL) || '/' || count(*)
		  FROM f1tel.driver_laps}),
	'0/2128', 'TRUNCATE position: positions gone from driver_laps');
$node->safe_psql('postgres', 'TRUNCATE f1tel.drivers');
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM f1tel.driver_laps WHERE name_acronym IS NOT NULL'),
	'0', 'TRUNCATE drivers: driver columns gone from driver_laps');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'),
	'0', 'after TRUNCATE: driver_laps equals its view');
$node->safe_psql('postgres', 'TRUNCATE f1tel.laps');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'),
	'0', 'TRUNCATE laps: driver_laps empty');

# ---- cost: the recomputation reads through the indexes ----------------------

run_order('chronological (for EXPLAIN)', \@chrono, [ fixed_batches(scalar @chrono, 500) ]);
$node->safe_psql('postgres', 'ANALYZE');
foreach my $keys ('(9189, 1, 49, 50)', '(9189, 1, -2147483648, 2147483647), (9606, 44, 10, 12)')
{
	my $plan = $node->safe_psql('postgres', qq{
		EXPLAIN (COSTS OFF)
		SELECT c.*
		  FROM unnest(ARRAY[ROW$keys]::f1tel.lap_range[]) k
		 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
													  k.lap_from, k.lap_to) c});
	(my $what = $keys) =~ s/, ROW/, /g;
	unlike($plan, qr/Seq Scan/, "recompute of $what: no sequential scan")
	  or diag($plan);
	foreach my $index (qw(laps_pkey drivers_pkey position_pkey))
	{
		like($plan, qr/Index Scan (Backward )?using $index on/,
			"recompute of $what: index scan on $index");
	}
}
my $plan = $node->safe_psql('postgres', q{
	EXPLAIN (COSTS OFF)
	SELECT dl.lap_number
	  FROM f1tel.driver_laps dl
	 WHERE dl.session_key = 9189 AND dl.driver_number = 1
	   AND dl.lap_end >= '2023-11-19 07:00:00+00' AND dl.lap_end < '2023-11-19 07:05:00+00'});
like($plan, qr/driver_laps_lap_end_idx/, 'laps a position decides are found by driver_laps_lap_end_idx')
  or diag($plan);

note sprintf('total %.1f s', time() - $t0);
$node->stop;
done_testing();
