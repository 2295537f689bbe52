# test/t/021_change_feed.pl — the change feed under concurrency: no change
# missed, none delivered twice.
#
# Two writers (two psql sessions) replay the real sessions 9189 and 9606
# (laps, with an "opened" version of every fifth lap first, position, drivers,
# race_control; test/data/openf1 or $F1TEL_DATA) at the same time, in
# small batches as the ingest worker writes them (advisory locks sorted, one
# upsert per table, one transaction per batch), overlapping: each message goes
# to one writer or, one time in seven, to both, so the two touch the same
# drivers and rows concurrently and commit out of change-id order.
# Meanwhile two readers share subscriber "sink_a" (read_changes / ack_changes,
# one transaction per round: FOR UPDATE SKIP LOCKED keeps them apart), and a
# third reader follows "sink_b", which subscribes in the middle of it all.
#
# Checked at the end: sink_a, subscribed before any data, received every
# version 1..n of every driver_laps row exactly once and every race_control
# row exactly once, no change id twice, and the last image of each row is the
# row in f1tel.driver_laps; sink_b received, for every row, one unbroken run of
# versions ending at the current one (its backfill image, then every change);
# nothing is left queued; driver_laps equals its view.  The number of changes
# a reader got after one with a higher id -- those a cursor "id > last seen"
# would have skipped -- is printed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $data = data_dir();
BAIL_OUT("recorded sessions not found in $data (set F1TEL_DATA)")
  unless -f "$data/9189/laps.json" && -f "$data/9606/laps.json";

my $node = new_plain_node('change_feed', conf => <<'EOF');
deadlock_timeout = 100ms
log_lock_waits = on
EOF

# ---- the messages and the worker-shaped writes ------------------------------

my $sql = raw_load_sql($data, [qw(9189 9606)],
	[qw(laps position drivers race_control sessions)]);
$sql .= q{
-- one message per row, id in chronological order (drivers an hour before the
-- session, laps at their end, records at their date; opened laps at their start)
CREATE TABLE enrich_test.msgs (
	id				integer PRIMARY KEY,
	topic			text NOT NULL,
	key				text NOT NULL,
	session_key		integer NOT NULL,
	driver_number	integer,
	payload			jsonb NOT NULL
);
INSERT INTO enrich_test.msgs
SELECT row_number() OVER (ORDER BY m.ts, m.version, m.ord), m.topic, m.key,
	   (m.payload->>'session_key')::int, (m.payload->>'driver_number')::int, m.payload
  FROM (SELECT 'laps' AS topic, 1 AS version, r.ord, r.j AS payload,
			   concat_ws('/', r.j->>'session_key', r.j->>'driver_number', r.j->>'lap_number') AS key,
			   (r.j->>'date_start')::timestamptz
				 + coalesce((r.j->>'lap_duration')::float8, 0) * interval '1 second' AS ts
		  FROM enrich_test.raw r WHERE r.topic = 'laps'
		UNION ALL
		SELECT 'laps', 0, r.ord,
			   r.j || '{"lap_duration": null, "duration_sector_1": null, "duration_sector_2": null,
						"duration_sector_3": null, "i1_speed": null, "i2_speed": null,
						"st_speed": null}',
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
			   (SELECT (s.j->>'date_start')::timestamptz - interval '1 hour'
				  FROM enrich_test.raw s
				 WHERE s.topic = 'sessions' AND s.j->>'session_key' = r.j->>'session_key')
		  FROM enrich_test.raw r WHERE r.topic = 'drivers'
		UNION ALL
		SELECT 'race_control', 1, r.ord, r.j, r.ord::text, (r.j->>'date')::timestamptz
		  FROM enrich_test.raw r WHERE r.topic = 'race_control') m;

CREATE FUNCTION enrich_test.apply_batch(p_ids integer[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	k			record;
BEGIN
	FOR k IN SELECT DISTINCT m.session_key, m.driver_number
			   FROM enrich_test.msgs m
			  WHERE m.id = ANY (p_ids) AND m.topic IN ('laps', 'position', 'drivers')
			  ORDER BY 1, 2
	LOOP
		PERFORM pg_advisory_xact_lock(k.session_key, k.driver_number);
	END LOOP;
};
foreach my $t (qw(drivers laps position race_control))
{
	$sql .= "\t" . message_upsert_sql($t) . ";\n";
}
$sql .= q{
END
$$;

-- a writer: the messages p_ids in batches of p_batches[i], one transaction each
CREATE PROCEDURE enrich_test.write(p_ids integer[], p_batches integer[])
LANGUAGE plpgsql AS $$
DECLARE
	v_pos		integer := 1;
BEGIN
	FOR i IN 1 .. cardinality(p_batches) LOOP
		PERFORM enrich_test.apply_batch(p_ids[v_pos : v_pos + p_batches[i] - 1]);
		COMMIT;
		v_pos := v_pos + p_batches[i];
	END LOOP;
	UPDATE enrich_test.flags SET writers_done = writers_done + 1;
	COMMIT;
END
$$;

CREATE TABLE enrich_test.flags (writers_done integer NOT NULL);
INSERT INTO enrich_test.flags VALUES (0);

-- what the readers got, in the order they got it
CREATE TABLE enrich_test.received (
	seq			bigserial,
	reader		text NOT NULL,
	subscriber	text NOT NULL,
	change_id	bigint NOT NULL,
	table_name	text NOT NULL,
	op			text NOT NULL,
	key			text NOT NULL,
	version		bigint NOT NULL,
	row_data	jsonb NOT NULL
);

-- a sink: read, record, acknowledge, commit, until the writers are done and
-- nothing is left for it (or three minutes passed)
CREATE PROCEDURE enrich_test.read(p_reader text, p_subscriber text, p_max integer)
LANGUAGE plpgsql AS $$
DECLARE
	v_done		integer;
	v_ids		bigint[];
	v_deadline	timestamptz := clock_timestamp() + interval '3 minutes';
BEGIN
	LOOP
		SELECT writers_done INTO v_done FROM enrich_test.flags;
		WITH r AS (
			INSERT INTO enrich_test.received
				(reader, subscriber, change_id, table_name, op, key, version, row_data)
			SELECT p_reader, p_subscriber, c.change_id, c.table_name, c.op,
				   CASE c.table_name
					 WHEN 'driver_laps' THEN concat_ws('/', c.row_data->>'session_key',
													   c.row_data->>'driver_number',
													   c.row_data->>'lap_number')
					 ELSE c.row_data->>'id'
				   END,
				   c.version, c.row_data
			  FROM f1tel.read_changes(p_subscriber, p_max) c
			 ORDER BY c.change_id
			RETURNING change_id)
		SELECT array_agg(r.change_id) INTO v_ids FROM r;
		PERFORM f1tel.ack_changes(p_subscriber, v_ids);
		COMMIT;
		IF v_ids IS NULL THEN
			EXIT WHEN v_done = 2 OR clock_timestamp() > v_deadline;
			PERFORM pg_sleep(0.005);
		END IF;
	END LOOP;
END
$$;
};
$node->safe_psql('postgres', $sql);
$node->safe_psql('postgres', q{SELECT f1tel.subscribe('sink_a')});

# ---- run ---------------------------------------------------------------------

my @ids = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM enrich_test.msgs ORDER BY id');
my $seed = $ENV{F1TEL_FEED_SEED} // 20240922;
note "seed $seed (set F1TEL_FEED_SEED to change it)";
srand($seed);
my (@w1, @w2);
foreach my $id (@ids)
{
	my $r = rand(7);
	push @w1, $id if $r < 4;
	push @w2, $id if $r >= 3;
}

sub batches
{
	my ($n) = @_;
	my @b;
	while ($n > 0)
	{
		my $b = 1 + int(rand(25));
		$b = $n if $b > $n;
		push @b, $b;
		$n -= $b;
	}
	return @b;
}

my $connstr = $node->connstr('postgres');
my %procs;

sub start_psql
{
	my ($name, $call) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c', $call ],
		'>', \$out, '2>', \$err);
	$procs{$name} = { h => $h, out => \$out, err => \$err };
}

my $t0 = time();
start_psql('reader 1', q{CALL enrich_test.read('reader 1', 'sink_a', 40)});
start_psql('reader 2', q{CALL enrich_test.read('reader 2', 'sink_a', 40)});
start_psql('writer 1', 'CALL enrich_test.write(ARRAY[' . join(',', @w1) . '], ARRAY['
	  . join(',', batches(scalar @w1)) . '])');
start_psql('writer 2', 'CALL enrich_test.write(ARRAY[' . join(',', @w2) . '], ARRAY['
	  . join(',', batches(scalar @w2)) . '])');

# sink_b comes when about a third of the rows are there
$node->poll_query_until('postgres', 'SELECT count(*) > 700 FROM f1tel.driver_laps')
  or die 'the writers made no progress';
my $late = $node->safe_psql('postgres', q{
	SELECT f1tel.subscribe('sink_b'), (SELECT count(*) FROM f1tel.driver_laps)});
note "sink_b subscribed with $late driver_laps rows in place";
start_psql('reader 3', q{CALL enrich_test.read('reader 3', 'sink_b', 100)});

foreach my $name (sort keys %procs)
{
	my $p = $procs{$name};
	$p->{h}->finish;
	is($? >> 8, 0, "$name finished") or diag(${ $p->{err} });
}
note sprintf('writers %d and %d messages, concurrent run %.1f s', scalar @w1, scalar @w2,
	time() - $t0);

# ---- checks --------------------------------------------------------------------

is($node->safe_psql('postgres', 'SELECT writers_done FROM enrich_test.flags'), '2',
	'both writers committed everything');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'),
	'0', 'driver_laps equals its view');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'),
	949 + 1179, 'one driver_laps row per lap');

is( $node->safe_psql('postgres',
		'SELECT count(*) - count(DISTINCT (subscriber, change_id)) FROM enrich_test.received'),
	'0', 'no change delivered twice to a subscriber');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(subscriber || ' ' || pending, ', ' ORDER BY subscriber)
		  FROM f1tel.change_backlog}),
	'sink_a 0, sink_b 0', 'nothing left queued');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.changes'),
	'0', 'every change row removed once acknowledged by both subscribers');

# sink_a: exactly the versions 1..n of every row, each once
is( $node->safe_psql('postgres', q{
		WITH expected AS (
			SELECT 'driver_laps' AS table_name,
				   concat_ws('/', dl.session_key, dl.driver_number, dl.lap_number) AS key,
				   v AS version
			  FROM f1tel.driver_laps dl, generate_series(1, dl.version) v
			UNION ALL
			SELECT 'race_control', rc.id::text, 1 FROM f1tel.race_control rc),
		got AS (
			SELECT table_name, key, version FROM enrich_test.received
			 WHERE subscriber = 'sink_a')
		SELECT (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE got) x)
			 || ' missing, '
			 || (SELECT count(*) FROM (TABLE got EXCEPT ALL TABLE expected) x)
			 || ' unexpected'}),
	'0 missing, 0 unexpected',
	'sink_a received every version of every driver_laps row and every race_control row once');
my ($changes_a, $versions) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), (SELECT sum(version) FROM f1tel.driver_laps)
	  FROM enrich_test.received WHERE subscriber = 'sink_a'});
note "sink_a received $changes_a changes ($versions driver_laps versions)";

# the last image of every row is the row
foreach my $sub (qw(sink_a sink_b))
{
	is( $node->safe_psql('postgres', qq{
			SELECT count(*)
			  FROM f1tel.driver_laps dl
			  LEFT JOIN (SELECT DISTINCT ON (key) key, row_data
						   FROM enrich_test.received
						  WHERE subscriber = '$sub' AND table_name = 'driver_laps'
						  ORDER BY key, version DESC) r
				ON r.key = concat_ws('/', dl.session_key, dl.driver_number, dl.lap_number)
			 WHERE r.row_data IS DISTINCT FROM f1tel.driver_laps_image(dl)}),
		'0', "$sub: the last image received of every row equals the row in driver_laps");
}

# sink_b: per row one unbroken run of versions up to the current one
is( $node->safe_psql('postgres', q{
		WITH got AS (
			SELECT key, min(version) AS lo, max(version) AS hi, count(*) AS n
			  FROM enrich_test.received
			 WHERE subscriber = 'sink_b' AND table_name = 'driver_laps'
			 GROUP BY key)
		SELECT count(*)
		  FROM f1tel.driver_laps dl
		  LEFT JOIN got g ON g.key = concat_ws('/', dl.session_key, dl.driver_number, dl.lap_number)
		 WHERE g.key IS NULL OR g.hi <> dl.version OR g.n <> g.hi - g.lo + 1}),
	'0', 'sink_b (late): every row, versions from its backfill image on, none skipped');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM f1tel.race_control rc
		 WHERE (SELECT count(*) FROM enrich_test.received r
				 WHERE r.subscriber = 'sink_b' AND r.table_name = 'race_control'
				   AND r.key = rc.id::text) <> 1}),
	'0', 'sink_b (late): every race_control row once');

# how the work was shared; "after a higher id": what a cursor "id > last seen"
# would have skipped (reader 3 is sink_b's only reader)
note $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s: %s changes, %s after a higher id', reader, n, late), '; '
					  ORDER BY reader)
	  FROM (SELECT reader, count(*) AS n,
				   count(*) FILTER (WHERE change_id < prev_max) AS late
			  FROM (SELECT reader, change_id,
						   max(change_id) OVER (PARTITION BY reader ORDER BY seq
												ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
							 AS prev_max
					  FROM enrich_test.received) x
			 GROUP BY reader) y});
# ---- the cursor case, deterministic: a change committed after a later one ------

# Transaction A takes a change id and stays open; B takes a higher one and
# commits; the sink reads B's change.  Then A commits: its change, with the
# lower id, must still come.  (Hand-written rows, session keys 900301-2.)
my $read_ack = q{
	WITH r AS (SELECT * FROM f1tel.read_changes('sink_a', 100))
	SELECT f1tel.ack_changes('sink_a', (SELECT array_agg(change_id) FROM r)),
		   (SELECT string_agg(concat_ws('/', row_data->>'session_key', row_data->>'lap_number')
							  || ' ' || change_id, ',' ORDER BY change_id) FROM r)};
my $insert_lap = q{INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start,
		lap_duration, src_topic, src_partition, src_offset)
	VALUES (%d, 1, 1, '2031-05-01 12:00:00+00', 90, 'test', 0, 1)};
my $txn_a = $node->background_psql('postgres');
$txn_a->query_safe('BEGIN');
$txn_a->query_safe(sprintf($insert_lap, 900301));
$node->safe_psql('postgres', sprintf($insert_lap, 900302));
my (undef, $first) = split /\|/, $node->safe_psql('postgres', $read_ack);
like($first, qr{^900302/1 \d+$}, 'the sink reads the committed change');
$txn_a->query_safe('COMMIT');
$txn_a->quit;
my (undef, $second) = split /\|/, $node->safe_psql('postgres', $read_ack);
like($second, qr{^900301/1 \d+$}, 'the change committed later is read next');
my ($id1) = $first =~ /(\d+)$/;
my ($id2) = $second =~ /(\d+)$/;
cmp_ok($id2, '<', $id1, '... although its change id is lower: a cursor would have skipped it');

# ---- write skew, deterministic -------------------------------------------------

# Lap 1 has no duration, so it ends where lap 2 starts.  A inserts lap 2 and
# stays open; B, which takes no lock itself, inserts the position record that
# decides lap 1 only once lap 2 exists.  B's trigger must wait for A's lock
# and then see lap 2; reading without waiting (or with the snapshot of the
# statement that waited), B would find no lap to update and lap 1 would keep
# a stale position.  (Hand-written rows, session key 900401.)
$node->safe_psql('postgres', q{
	INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic, src_partition, src_offset)
	VALUES (900401, 1, '2031-05-01 11:55:00+00', 5, 'test', 0, 1);
	INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start, lap_duration,
							src_topic, src_partition, src_offset)
	VALUES (900401, 1, 1, '2031-05-01 12:00:00+00', NULL, 'test', 0, 2)});
$txn_a = $node->background_psql('postgres');
$txn_a->query_safe('BEGIN');
$txn_a->query_safe(q{INSERT INTO f1tel.laps (session_key, driver_number, lap_number, date_start,
		lap_duration, src_topic, src_partition, src_offset)
	VALUES (900401, 1, 2, '2031-05-01 12:01:40+00', NULL, 'test', 0, 3)});
my ($out, $err) = ('', '');
my $writer_b = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c',
	  q{INSERT INTO f1tel.position (session_key, driver_number, date, position, src_topic,
			src_partition, src_offset)
		VALUES (900401, 1, '2031-05-01 12:01:00+00', 3, 'test', 0, 4)} ],
	'>', \$out, '2>', \$err);
my $waited = 0;
foreach (1 .. 100)
{
	$waited = $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted});
	last if $waited;
	$writer_b->pump_nb;
	last unless $writer_b->pumpable;	# B is done: it did not wait
	usleep(100_000);
}
ok($waited, "B's trigger waits for A's advisory lock");
$txn_a->query_safe('COMMIT');
$txn_a->quit;
$writer_b->finish;
is($? >> 8, 0, 'B committed') or diag($err);
is( $node->safe_psql('postgres', q{
		SELECT string_agg(lap_number || ':' || to_char(lap_end, 'HH24:MI:SS') || ':P' || position,
						  ' ' ORDER BY lap_number)
		  FROM f1tel.driver_laps WHERE session_key = 900401}),
	'1:12:01:40:P3 2:12:01:40:P3',
	'lap 1 ends where lap 2 starts and has the position B recorded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'),
	'0', 'driver_laps equals its view');

$node->stop;
done_testing();
