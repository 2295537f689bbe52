# test/t/090_security.pl — a hostile database owner, real logins, and the
# driver locks' own space.
#
# 1. search_path: the database f1tel works in belongs to "mallory", who is no
#    superuser but owns its public schema.  Mallory plants overloads of the
#    built-ins f1tel's SQL uses (lower(int8range), cardinality, unnest,
#    array_agg, range_agg, hashint8, to_char, now, an "=" operator on
#    integers, ...), each of which records that it ran, and points the
#    database's search_path at public first.  The feed replays two recorded
#    sessions; the ingest worker, the enrichment triggers and the sink (to the
#    local BigQuery server and the upsert topic) all run, a superuser calls
#    f1tel's operations with that search_path: no planted function ever runs.
# 2. Privileges, with real logins: a reader (f1tel_reader), an operator
#    (f1tel_admin) and mallory: what each can and cannot do.
# 3. Advisory locks: an application holding pg_advisory_lock(9189, 44) (the
#    key space f1tel used to take) stalls nothing; a transaction holding
#    f1tel's own lock of a driver makes the worker's batch wait at most
#    f1tel.lock_wait_timeout, the error names the holder in ingest_status,
#    and once it is gone everything arrives, with no dead letter.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $broker = start_broker(partitions => 2);
my $bq = start_bigquery();
my $node = new_node('security', broker => $broker,
	conf => sink_conf($bq) . "f1tel.database = 'race'\nf1tel.lock_wait_timeout = '2s'\n");
my @endpoints = qw(sessions meetings drivers laps position race_control);
# the test's own queries name built-ins unqualified: they resolve in
# pg_catalog only, except where a block below sets PGOPTIONS to '' to take
# mallory's search_path on purpose
$ENV{PGOPTIONS} = '-c search_path=pg_catalog';

# --- the hostile owner and the planted functions
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE ROLE alice LOGIN IN ROLE f1tel_reader;
	CREATE ROLE bob LOGIN IN ROLE f1tel_admin;
	CREATE DATABASE race OWNER mallory;
});
$node->safe_psql('race', 'CREATE EXTENSION f1tel');
my $plant = q{
	CREATE TABLE public.pwned (who text, what text, at timestamptz DEFAULT pg_catalog.clock_timestamp());
	GRANT ALL ON public.pwned TO PUBLIC;
	CREATE FUNCTION public.pwn(what text) RETURNS void LANGUAGE sql
		AS $$ INSERT INTO public.pwned (who, what) VALUES (pg_catalog.current_user(), what) $$;
	CREATE FUNCTION public.lower(int8range) RETURNS bigint LANGUAGE sql
		AS $$ SELECT public.pwn('lower(int8range)'); SELECT pg_catalog.lower($1) $$;
	CREATE FUNCTION public.upper(int8range) RETURNS bigint LANGUAGE sql
		AS $$ SELECT public.pwn('upper(int8range)'); SELECT pg_catalog.upper($1) $$;
	CREATE FUNCTION public.int8range(bigint, bigint, text) RETURNS int8range LANGUAGE sql
		AS $$ SELECT public.pwn('int8range'); SELECT pg_catalog.int8range($1, $2, $3) $$;
	CREATE FUNCTION public.cardinality(anyarray) RETURNS integer LANGUAGE sql
		AS $$ SELECT public.pwn('cardinality'); SELECT pg_catalog.cardinality($1) $$;
	CREATE FUNCTION public.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql
		AS $$ SELECT public.pwn('unnest'); SELECT pg_catalog.unnest($1) $$;
	CREATE FUNCTION public.hashint8(bigint) RETURNS integer LANGUAGE sql
		AS $$ SELECT public.pwn('hashint8'); SELECT pg_catalog.hashint8($1) $$;
	CREATE FUNCTION public.to_char(timestamp, text) RETURNS text LANGUAGE sql
		AS $$ SELECT public.pwn('to_char'); SELECT pg_catalog.to_char($1, $2) $$;
	CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
		AS $$ SELECT public.pwn('now'); SELECT pg_catalog.now() $$;
	CREATE FUNCTION public.current_setting(text) RETURNS text LANGUAGE sql
		AS $$ SELECT public.pwn('current_setting'); SELECT pg_catalog.current_setting($1) $$;
	CREATE FUNCTION public.pg_advisory_xact_lock(integer, integer) RETURNS void LANGUAGE sql
		AS $$ SELECT public.pwn('pg_advisory_xact_lock'); SELECT pg_catalog.pg_advisory_xact_lock($1, $2) $$;
	CREATE FUNCTION public.pg_try_advisory_xact_lock(integer, integer) RETURNS boolean LANGUAGE sql
		AS $$ SELECT public.pwn('pg_try_advisory_xact_lock'); SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2) $$;
	CREATE FUNCTION public.jsonb_build_object(text, jsonb) RETURNS jsonb LANGUAGE sql
		AS $$ SELECT public.pwn('jsonb_build_object'); SELECT pg_catalog.jsonb_build_object($1, $2) $$;
	CREATE FUNCTION public.pwn_append(anycompatiblearray, anycompatible) RETURNS anycompatiblearray LANGUAGE sql
		AS $$ SELECT public.pwn('aggregate'); SELECT pg_catalog.array_append($1, $2) $$;
	CREATE AGGREGATE public.array_agg(anycompatible) (SFUNC = public.pwn_append, STYPE = anycompatiblearray);
	CREATE FUNCTION public.pwn_eq(integer, integer) RETURNS boolean LANGUAGE sql
		AS $$ SELECT public.pwn('='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
	CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.pwn_eq);
	ALTER DATABASE race SET search_path = public, pg_catalog;
};
$node->safe_psql('race', "SET ROLE mallory; $plant");
# the trap works: a superuser's own query with that search_path falls in it
{
	local $ENV{PGOPTIONS} = '';
	$node->safe_psql('race', 'SELECT 1 WHERE 2 = 2');
	is($node->safe_psql('race', 'SELECT count(*) FROM public.pwned'), '1', 'the planted "=" catches unqualified SQL');
	$node->safe_psql('race', 'TRUNCATE public.pwned');
}

# the workers start in "race" (f1tel.database)
$node->restart;

# --- 3a. an application's lock on (9189, 44) is no longer f1tel's
my $app = $node->background_psql('race', on_error_stop => 1);
$app->query_safe('SELECT pg_catalog.pg_advisory_lock(9189, 44)');

is(run_feed($broker, sessions => [ '9189', '9606' ], endpoints => \@endpoints), 0, 'feed replayed both sessions');
my $counts = q{SELECT (SELECT count(*) FROM f1tel.laps) = 2128 AND (SELECT count(*) FROM f1tel.race_control) = 134
	AND (SELECT count(*) FROM f1tel.position) = 944 AND (SELECT count(*) FROM f1tel.drivers) = 40};
ok($node->poll_query_until('race', $counts), 'everything ingested while an application holds advisory lock (9189, 44)');
$app->query_safe('SELECT pg_catalog.pg_advisory_unlock_all()');

# --- 1. the sink, and a superuser's calls with mallory's search_path
my $pushed = 0;
for (1 .. 600)
{
	last if ($pushed = $node->safe_psql('race', q{
		SELECT count(*) = 2 AND sum(pending) = 0 FROM f1tel.change_backlog})) eq 't';
	usleep(200_000);
}
is($pushed, 't', 'both sinks pushed every change');
is($node->safe_psql('race', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0', 'driver_laps equals its view');
{
	local $ENV{PGOPTIONS} = '';
	is($node->safe_psql('race', 'SHOW search_path'), 'public, pg_catalog', "the operations run with mallory's search_path");
	$node->safe_psql('race', q{
	SELECT f1tel.driver_laps_refresh();
	SELECT f1tel.subscribe('custom');
	SELECT count(*) FROM f1tel.read_changes('custom', 10);
	SELECT f1tel.ack_changes('custom', ARRAY(SELECT change_id FROM f1tel.read_changes('custom', 5)));
	SELECT f1tel.unsubscribe('custom');
	SELECT * FROM f1tel.ingest_message('f1_drivers', '{"session_key":1}');
	SELECT * FROM f1tel.replay_dead_letters();
	SELECT f1tel.reset_offset('f1_laps', 99, 0, 'nobody');
	SELECT count(*) FROM f1tel.leaderboard;
	SELECT count(*) FROM f1tel.fastest_laps;
	SELECT count(*) FROM f1tel.lap_chart;
	SELECT count(*) FROM f1tel.driver_laps_v;
	SELECT count(*) FROM f1tel.change_backlog;
	SELECT count(*) FROM f1tel.ingest_status;
	});
}
is($node->safe_psql('race', q{SELECT coalesce(string_agg(DISTINCT who || ': ' || what, ', '), 'none') FROM public.pwned}),
	'none', 'no planted function ran: not in ingest, enrichment, the sink or the operations');

# --- 2. privileges, as real logins
sub as_user
{
	my ($user, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('race', $sql, extra_params => [ '-U', $user ]);
	return ($ret, $err);
}
my ($ret, $err);
($ret, $err) = as_user('alice', 'SELECT count(*) FROM f1tel.driver_laps, f1tel.leaderboard');
is($ret, 0, 'reader: reads driver_laps and the views');
($ret, $err) = as_user('alice', 'SELECT count(*) FROM f1tel.ingest_status, f1tel.change_backlog, f1tel.sink_status');
is($ret, 0, 'reader: reads the status views');
foreach my $w ('UPDATE f1tel.kafka_offsets SET next_offset = 0',
	'DELETE FROM f1tel.change_queue', 'UPDATE f1tel.sink_status SET rows_pushed = 0',
	'INSERT INTO f1tel.laps (session_key, driver_number, lap_number) VALUES (1, 1, 1)',
	q{SELECT f1tel.reset_offset('f1_laps', 0, 0)}, 'SELECT f1tel.restart_workers()',
	q{SELECT f1tel.ack_changes('bigquery', ARRAY[1])})
{
	($ret, $err) = as_user('alice', $w);
	isnt($ret, 0, "reader cannot: $w");
	like($err, qr/permission denied/, '... permission denied');
}
foreach my $w ('UPDATE f1tel.kafka_offsets SET next_offset = 0', 'DELETE FROM f1tel.change_queue',
	'DELETE FROM f1tel.changes', 'UPDATE f1tel.sink_status SET rows_pushed = 0',
	'DELETE FROM f1tel.sink_dead_letters', 'TRUNCATE f1tel.driver_laps',
	q{SELECT f1tel.driver_laps_apply(ARRAY[]::f1tel.lap_range[], true)})
{
	($ret, $err) = as_user('bob', $w);
	isnt($ret, 0, "admin cannot write directly: $w");
	($ret, $err) = as_user('mallory', $w);
	isnt($ret, 0, "the database owner cannot: $w");
}
($ret, $err) = as_user('mallory', 'SELECT count(*) FROM f1tel.driver_laps');
like($err, qr/permission denied for schema f1tel/, 'the database owner reads nothing of f1tel unless granted');
($ret, $err) = as_user('bob', q{SELECT f1tel.reset_offset('f1_laps', 0, NULL, 'bob-group')});
is($ret, 0, 'admin: reset_offset');
is($node->safe_psql('race', q{SELECT count(*) FROM f1tel.kafka_offsets WHERE group_id = 'bob-group'}), '1',
	'... it wrote the offset');
($ret, $err) = as_user('bob', 'SELECT * FROM f1tel.replay_dead_letters()');
is($ret, 0, 'admin: replay_dead_letters');
my $before = $node->safe_psql('race', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM f1tel.workers
	WHERE worker LIKE 'f1tel ingest%' OR worker = 'f1tel sink'});
($ret, $err) = as_user('bob', 'SELECT f1tel.restart_workers()');
is($ret, 0, 'admin: restart_workers (the workers run as a superuser)');
ok($node->poll_query_until('race', qq{SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') NOT IN ('', '$before')
	FROM f1tel.workers WHERE worker LIKE 'f1tel ingest%' OR worker = 'f1tel sink'}), '... and they came back');
($ret, $err) = as_user('bob', q{SELECT f1tel.subscribe('bobs-sink'); SELECT count(*) FROM f1tel.read_changes('bobs-sink', 5); SELECT f1tel.unsubscribe('bobs-sink')});
is($ret, 0, 'admin: subscribe, read_changes, unsubscribe');
is($node->safe_psql('race', 'SELECT count(*) FROM public.pwned'), '0', 'still no planted function ran');

# --- 3b. a transaction holding f1tel's own lock of driver 44 in 9189
my $holder = $node->background_psql('race', on_error_stop => 1);
$holder->query_safe('BEGIN');
$holder->query_safe(q{SELECT f1tel.lock_drivers(ARRAY[9189], ARRAY[44])});
my $holder_pid = $holder->query_safe('SELECT pg_catalog.pg_backend_pid()');
chomp $holder_pid;
# a corrected lap of driver 44 (hand-made: a lap_duration changed) arrives
my $lap = $node->safe_psql('race', q{SELECT pg_catalog.jsonb_set(pg_catalog.to_jsonb(l) - 'src_topic' - 'src_partition'
	- 'src_offset' - 'ingested_at', '{lap_duration}', '99.5') FROM f1tel.laps l
	WHERE session_key = 9189 AND driver_number = 44 AND lap_number = 10});
my $line = "f1_laps\t9189:44\t" . unpack('H*', $lap) . "\n";
IPC::Run::run([ '/usr/bin/python3', F1telTest::repo_root() . '/test/lib/produce.py',
	"$broker->{brokers}" ], '<', \$line)
  or die 'produce failed';
ok($node->poll_query_until('race', qq{SELECT count(*) > 0 FROM f1tel.ingest_status
	WHERE topic = 'f1_laps' AND last_error LIKE '%lock of session 9189, driver 44%' AND last_error LIKE '%pid $holder_pid%'}),
	'ingest_status names the transaction that holds the lock');
is($node->safe_psql('race', q{SELECT lap_duration FROM f1tel.driver_laps WHERE session_key = 9189 AND driver_number = 44 AND lap_number = 10}),
	$node->safe_psql('race', q{SELECT lap_duration FROM f1tel.laps WHERE session_key = 9189 AND driver_number = 44 AND lap_number = 10}),
	'nothing written while the lock is held');
$holder->query_safe('ROLLBACK');
ok($node->poll_query_until('race', q{SELECT lap_duration = 99.5 FROM f1tel.driver_laps
	WHERE session_key = 9189 AND driver_number = 44 AND lap_number = 10}), 'the lap arrives once the lock is free');
is($node->safe_psql('race', q{SELECT count(*) FROM f1tel.dead_letters WHERE topic = 'f1_laps'}), '0',
	'no dead letter: a lock wait is not the message\'s fault');
$holder->quit;
$app->quit;

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
