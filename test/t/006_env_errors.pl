# test/t/006_env_errors.pl — errors of the environment never make dead letters.
#
# Only a message's content may make it a dead letter (src/ingest/errclass.h).
# Each phase replays the laps of 9189 (recorded data) as a session of its own
# (f1tel-feed --session-key-offset) while one condition of the environment
# makes the worker's batches fail, and lifts it afterwards:
#
#   lock_timeout       another session holds LOCK TABLE f1tel.laps, the
#                      worker's lock_timeout is 100 ms (ALTER SYSTEM)
#   statement_timeout  the same lock, lock_timeout 0, statement_timeout 300 ms
#   cancel             the same lock, no timeouts; pg_cancel_backend() of the
#                      worker, three times, while it waits for the lock
#   schema mismatch    f1tel.lock_drivers(), which the store calls, renamed
#                      away and back (a missing function)
#   disk full          simulated: a trigger of the test's on f1tel.laps raises
#                      SQLSTATE 53100 its first 3 times
#   out of memory      simulated: the same with SQLSTATE 53200
#   one at a time      simulated: a content error (22023) of the whole batch,
#                      then SQLSTATE 53100 three times while the worker writes
#                      one message per subtransaction
#
# After each: every lap arrived, no dead letter, every partition's stored
# offset equals the broker's end, and f1tel.ingest_status showed the error
# (last_error, retries > 0) while it lasted.  Then content errors (hand-built
# from a recorded lap and a recorded race_control record) still become dead
# letters, exactly those messages: a CHECK constraint of the user's (class
# 23), a trigger that divides by zero for one lap (class 22), a race_control
# message too long for the table's unique index (54000).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 2);
my $node = new_node('env', broker => $broker, conf => 'f1tel.batch_size = 300');
my $laps_file = data_dir() . '/9189/laps.json';
my $laps = decode_json(slurp_file($laps_file));
my $nlaps = scalar(@$laps);

# The broker's end offsets of a topic, summed over its partitions.
sub broker_end
{
	my ($topic) = @_;
	my $out = '';
	IPC::Run::run([ '/usr/bin/python3', '-c', qq{
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": "$broker->{brokers}", "group.id": "probe"})
md = c.list_topics("$topic", timeout=10)
print(sum(c.get_watermark_offsets(TopicPartition("$topic", p), timeout=10)[1]
          for p in md.topics["$topic"].partitions))} ], '>', \$out);
	chomp $out;
	return $out;
}

sub set_conf
{
	my ($sql) = @_;
	$node->safe_psql('postgres', $sql);
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	# the worker rereads its configuration at its next pass: it is idle, on its latch
	sleep 2;
}

my $phase = 0;

# Replay 9189's laps as session 9189 + $phase * 1000000 while $during runs;
# $lift ends the condition once $seen (SQL on ingest_status) is true.
sub run_phase
{
	my ($name, %o) = @_;
	$phase++;
	my $session = 9189 + $phase * 1000000;
	$o{before}->() if $o{before};
	is(run_feed($broker, sessions => ['9189'], endpoints => ['laps'],
			extra => [ '--session-key-offset', $phase * 1000000 ]), 0,
		"$name: the feed delivered the laps");
	$o{during}->() if $o{during};
	# a condition that passes by itself may be over before a poll sees retries > 0
	my $retrying = $o{brief} ? '' : 'AND retries > 0';
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) > 0 FROM f1tel.ingest_status
		WHERE topic = 'f1_laps' $retrying AND last_error LIKE '$o{error}'}),
		"$name: ingest_status shows the error while it lasts");
	note $node->safe_psql('postgres',
		q{SELECT partition || ': ' || retries || ' ' || last_error FROM f1tel.ingest_status
		  WHERE topic = 'f1_laps' ORDER BY partition});
	$o{lift}->();
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = $nlaps FROM f1tel.laps WHERE session_key = $session"),
		"$name: all $nlaps laps arrived");
	my $end = broker_end('f1_laps');
	ok($node->poll_query_until('postgres', qq{
		SELECT sum(coalesce(stored_offset, 0)) = $end AND bool_and(retries = 0)
		FROM f1tel.ingest_status WHERE topic = 'f1_laps'}),
		"$name: the stored offsets reached the broker's end ($end), no retry pending");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0',
		"$name: no dead letter");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) > 0 FROM f1tel.ingest_status WHERE topic = 'f1_laps' AND last_error LIKE '$o{error}'}),
		't', "$name: the error stays in last_error after it passed");
	$o{after}->() if $o{after};
	return;
}

# the first phase also waits for the group's first join
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
  or die 'no ingest worker';

my $holder;
sub hold_lock
{
	$holder = $node->background_psql('postgres', timeout => 900);
	$holder->query_safe('BEGIN');
	$holder->query_safe('LOCK TABLE f1tel.laps IN ACCESS EXCLUSIVE MODE');
}
sub release_lock
{
	$holder->query_safe('COMMIT');
	$holder->quit;
}

run_phase('lock_timeout',
	before => sub { set_conf(q{ALTER SYSTEM SET lock_timeout = '100ms'}); hold_lock() },
	error => '%55P03%lock timeout%',
	lift => \&release_lock,
	after => sub { set_conf('ALTER SYSTEM RESET lock_timeout') });

run_phase('statement_timeout',
	before => sub { set_conf(q{ALTER SYSTEM SET statement_timeout = '300ms'}); hold_lock() },
	error => '%57014%statement timeout%',
	lift => \&release_lock,
	after => sub { set_conf('ALTER SYSTEM RESET statement_timeout') });

run_phase('cancel',
	before => \&hold_lock,
	during => sub {
		for my $i (1 .. 3)
		{
			$node->poll_query_until('postgres', q{
				SELECT count(*) = 1 FROM pg_stat_activity
				WHERE backend_type = 'f1tel ingest' AND wait_event_type = 'Lock'})
			  or die 'the worker does not wait for the lock';
			$node->safe_psql('postgres', q{
				SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'});
			# until the cancel was taken: the worker leaves the lock wait
			$node->poll_query_until('postgres', qq{
				SELECT count(*) > 0 FROM f1tel.ingest_status WHERE topic = 'f1_laps' AND retries >= $i})
			  or die "cancel $i was not seen";
		}
	},
	error => '%57014%canceling statement due to user request%',
	lift => \&release_lock);

run_phase('schema mismatch (a missing function)',
	before => sub {
		$node->safe_psql('postgres',
			'ALTER FUNCTION f1tel.lock_drivers(integer[], integer[], integer[]) RENAME TO lock_drivers_gone');
	},
	error => '%42883%does not exist%',
	lift => sub {
		$node->safe_psql('postgres',
			'ALTER FUNCTION f1tel.lock_drivers_gone(integer[], integer[], integer[]) RENAME TO lock_drivers');
	});

# simulated: PostgreSQL has no way to make a disk full or memory run out on
# cue, so a trigger raises those errors' SQLSTATEs a few times
foreach my $sim ([ 'disk full', '53100', 'could not extend file: No space left on device' ],
	[ 'out of memory', '53200', 'out of memory' ])
{
	my ($name, $state, $text) = @$sim;
	my $seq = "t006_$state";
	run_phase("$name (simulated, SQLSTATE $state)",
		before => sub {
			$node->safe_psql('postgres', qq{
				CREATE SEQUENCE public.$seq;
				CREATE FUNCTION public.${seq}_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$
				BEGIN
					IF nextval('public.$seq') <= 3 THEN
						RAISE EXCEPTION USING ERRCODE = '$state', MESSAGE = 'simulated by test 006: $text';
					END IF;
					RETURN NULL;
				END \$\$;
				CREATE TRIGGER ${seq}_fail BEFORE INSERT ON f1tel.laps
					FOR EACH STATEMENT EXECUTE FUNCTION public.${seq}_fail();});
		},
		error => "%$state%simulated by test 006%",
		brief => 1,
		lift => sub { },
		after => sub {
			$node->safe_psql('postgres', qq{
				DROP TRIGGER ${seq}_fail ON f1tel.laps;
				DROP FUNCTION public.${seq}_fail();});
		});
	# each INSERT of the laps counts once: three failed, then the batches went in
	cmp_ok($node->safe_psql('postgres', "SELECT last_value FROM public.$seq"), '>=', 4,
		"$name: three failed attempts, then the batches were written");
}

# simulated: a content error sends the batch one message at a time, where a
# full disk (SQLSTATE 53100, three times) must not make dead letters either
run_phase('disk full one message at a time (simulated)',
	before => sub {
		$node->safe_psql('postgres', q{
			CREATE SEQUENCE public.t006_mixed;
			CREATE FUNCTION public.t006_mixed_fail() RETURNS trigger LANGUAGE plpgsql AS $$
			DECLARE
				v bigint := nextval('public.t006_mixed');
			BEGIN
				IF v = 1 THEN
					RAISE EXCEPTION USING ERRCODE = '22023',
						MESSAGE = 'simulated by test 006: a content error of the whole batch';
				ELSIF v <= 4 THEN
					RAISE EXCEPTION USING ERRCODE = '53100',
						MESSAGE = 'simulated by test 006: disk full one message at a time';
				END IF;
				RETURN NULL;
			END $$;
			CREATE TRIGGER t006_mixed_fail BEFORE INSERT ON f1tel.laps
				FOR EACH STATEMENT EXECUTE FUNCTION public.t006_mixed_fail();});
	},
	error => '%53100%one message at a time%',
	brief => 1,
	lift => sub { },
	after => sub {
		$node->safe_psql('postgres', q{
			DROP TRIGGER t006_mixed_fail ON f1tel.laps;
			DROP FUNCTION public.t006_mixed_fail();});
	});
like(slurp_file($node->logfile), qr/written again one message at a time/,
	'disk full one message at a time: the batch went one message at a time');

# ---- content errors still become dead letters, those messages only ----------

$phase++;
my $session = 9189 + $phase * 1000000;
$node->safe_psql('postgres', q{
	ALTER TABLE f1tel.laps ADD CONSTRAINT t006_lap_number CHECK (lap_number < 900);
	CREATE FUNCTION public.t006_divide() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM 1 / (NEW.lap_number - 800);
		RETURN NEW;
	END $$;
	CREATE TRIGGER t006_divide BEFORE INSERT ON f1tel.laps
		FOR EACH ROW EXECUTE FUNCTION public.t006_divide();});
my %lap = %{ $laps->[5] };
$lap{session_key} = $session;
my @bad = (
	[ 'f1_laps', 'check', encode_json({ %lap, lap_number => 901 }) ],
	[ 'f1_laps', 'divide', encode_json({ %lap, lap_number => 800 }) ],
);
my $rc = decode_json(slurp_file(data_dir() . '/9189/race_control.json'))->[0];
# incompressible text, longer than a btree index row may be (2704 bytes)
my @chars = ('a' .. 'z', 'A' .. 'Z', '0' .. '9');
my $long = join('', map { $chars[ int(rand(@chars)) ] } 1 .. 4000);
push @bad, [ 'f1-race_control', 'index', encode_json({ %$rc, session_key => $session, message => $long }) ];
my $input = join('', map { join("\t", $_->[0], "t006-$_->[1]", unpack('H*', $_->[2])) . "\n" } @bad);
my $feed = start_feed($broker, sessions => ['9189'], endpoints => [ 'laps', 'race_control' ],
	extra => [ '--session-key-offset', $phase * 1000000 ]);
my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/produce.py', "$broker->{brokers}" ],
	'<', \$input, '>', \$out, '2>', \$err);
is($?, 0, 'content errors: the bad messages were produced') or diag $err;
is(finish_feed($feed), 0, 'content errors: the feed delivered the laps and race_control');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = $nlaps FROM f1tel.laps WHERE session_key = $session"),
	"content errors: all $nlaps recorded laps arrived");
ok($node->poll_query_until('postgres', 'SELECT count(*) = 3 FROM f1tel.dead_letters'),
	'content errors: three dead letters');
is($node->safe_psql('postgres', q{
	SELECT string_agg(convert_from(key, 'UTF8') || ':' ||
		CASE WHEN reason LIKE '%violates check constraint "t006_lap_number"%' THEN 'check'
			 WHEN reason LIKE '%division by zero%' THEN 'divide'
			 WHEN reason LIKE '%index row%' THEN 'index' ELSE reason END, ' ' ORDER BY key)
	FROM f1tel.dead_letters}),
	't006-check:check t006-divide:divide t006-index:index',
	'content errors: exactly the bad messages, each with its database error');
foreach my $t ('f1_laps', 'f1-race_control')
{
	my $end = broker_end($t);
	ok($node->poll_query_until('postgres', qq{
		SELECT sum(coalesce(stored_offset, 0)) = $end FROM f1tel.ingest_status WHERE topic = '$t'}),
		"content errors: $t stored up to the broker's end ($end)");
}

# the assignment read the offsets outside librdkafka's poll (src/ingest/consumer.c)
unlike(slurp_file($node->logfile), qr/BUG: .* inside a librdkafka poll/,
	'no database call inside a librdkafka callback');

$node->stop;
stop_broker($broker);
done_testing();
