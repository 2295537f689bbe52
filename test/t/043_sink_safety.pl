# test/t/043_sink_safety.pl — the sink never wedges or starves (issue 9, item 8).
#
# One node, the local BigQuery server and the broker; each part checks one
# rule of the sink (README, "The sink"):
#  1. BigQuery answering quotaExceeded, then 503, for a long time: the upsert
#     topic still gets every change (each destination has its own
#     next-attempt time; BigQuery's back-off never blocks the topic);
#  2. the broker down: BigQuery still gets new changes while the topic's
#     round waits for its delivery reports;
#  3. a change the topic can never take (a row over message.max.bytes, made
#     by hand: a driver's full_name of 1.1 MB) is dead-lettered with its
#     change id and reason, and the changes after it go on;
#  4. a request BigQuery refuses for good (HTTP 400 invalid) pauses BigQuery
#     (sink_status.state, change_backlog.status 'paused'), no retry storm,
#     until a reload;
#  5. a destination whose setting is emptied: its subscriber and queue are
#     dropped by the documented rule; change_backlog.status says 'disabled'
#     for one left behind;
#  6. curl_multi_add_handle failing (a hand-written LD_PRELOAD shim): an
#     error with back-off, and everything arrives once it works again;
#  7. (item 9, a check of the source) no library callback in src/sink or
#     src/shared, nor a function of those files it calls, uses PostgreSQL's
#     allocator, error reporting, SPI or interrupts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my $node = new_node('sinksafety', broker => $broker, conf => sink_conf($bq, timeout_ms => 5000));
my @endpoints = qw(sessions meetings drivers laps position race_control);

sub psql { return $node->safe_psql('postgres', $_[0]) }

sub pending
{
	my ($sub) = @_;
	return psql("SELECT coalesce((SELECT pending FROM f1tel.change_backlog WHERE subscriber = '$sub'), -1)");
}

# poll a query until it returns 't' (deadline in seconds)
sub wait_true
{
	my ($sql, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if psql($sql) eq 't';
		usleep(200_000);
	}
	return 0;
}

sub insert_all_requests
{
	my (undef, $s) = bq_call($bq, 'GET', '/_stats');
	my $m = $s->{requests}{'bigquery.tabledata.insertAll'} // {};
	my $n = 0;
	$n += $_ foreach values %$m;
	return $n;
}

# --- 1. BigQuery backs off for minutes: the topic does not wait
bq_call($bq, 'POST', '/_fault', { status => 403, reason => 'quotaExceeded', count => 1, path_contains => 'insertAll' });
bq_call($bq, 'POST', '/_fault', { status => 503, count => 1000000, path_contains => 'insertAll' });
is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints), 0, 'feed replayed 9189');
$node->poll_query_until('postgres', q{
	SELECT (SELECT count(*) FROM f1tel.laps WHERE session_key = 9189) = 949
	   AND (SELECT count(*) FROM f1tel.position WHERE session_key = 9189) = 548
	   AND (SELECT count(*) FROM f1tel.race_control WHERE session_key = 9189) = 73}) or die 'not ingested';
ok(wait_true(q{SELECT coalesce((SELECT state = 'retrying' FROM f1tel.sink_status WHERE sink = 'bigquery'), false)}, 60),
	'BigQuery refuses (quotaExceeded, then 503): the sink backs off');
my $d1 = psql(q{SELECT min(driver_number) FROM f1tel.drivers WHERE session_key = 9189});
psql(qq{UPDATE f1tel.drivers SET team_colour = 'AAAAAA' WHERE session_key = 9189 AND driver_number = $d1});
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'kafka'}, 90),
	'meanwhile the topic got every change, the new ones too');
cmp_ok(pending('bigquery'), '>', 0, 'while BigQuery has them still queued');
is(psql(q{SELECT status FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}), 'retrying',
	'change_backlog says BigQuery is retrying');
bq_call($bq, 'DELETE', '/_fault');
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 240),
	'the faults gone, BigQuery gets everything');

# --- 2. the broker down: BigQuery does not wait for the topic
# (a cluster the test does not own, F1TEL_TEST_BROKERS, cannot be stopped)
SKIP:
{
	skip 'the broker belongs to F1TEL_TEST_BROKERS: the test cannot stop it', 6
	  unless broker_controllable($broker);
	broker_down($broker);
	my $dn = psql(q{SELECT min(driver_number) FROM f1tel.drivers WHERE session_key = 9189});
	psql(qq{UPDATE f1tel.drivers SET team_colour = 'ABCDEF' WHERE session_key = 9189 AND driver_number = $dn});
	# the topic's round of these changes now waits for the broker (up to 60 s)
	ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 50),
		'broker down: BigQuery got the new changes');
	psql(qq{UPDATE f1tel.drivers SET team_colour = 'ABCDEE' WHERE session_key = 9189 AND driver_number = $dn});
	ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 50),
		'and the changes made while the round of the topic waits');
	cmp_ok(pending('kafka'), '>', 0, 'which the topic has not');
	is(psql(q{SELECT coalesce(last_error, 'none') FROM f1tel.sink_status WHERE sink = 'kafka'}), 'none',
		'BigQuery did not wait for the end of the round of the topic (its delivery reports are still due)');
	broker_up($broker);
	ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'kafka'}, 180),
		'the broker back: the topic gets them');
}

# --- 3. a change the topic can never take: dead-lettered, the rest goes on
my $few = psql(q{SELECT driver_number FROM f1tel.driver_laps WHERE session_key = 9189
	GROUP BY 1 ORDER BY count(*), 1 LIMIT 1});
my $nfew = psql(qq{SELECT count(*) FROM f1tel.driver_laps WHERE session_key = 9189 AND driver_number = $few});
psql(qq{UPDATE f1tel.drivers SET full_name = repeat('x', 1100000) WHERE session_key = 9189 AND driver_number = $few});
my $other = psql(qq{SELECT max(driver_number) FROM f1tel.drivers WHERE session_key = 9189 AND driver_number <> $few});
psql(qq{UPDATE f1tel.drivers SET team_colour = '123456' WHERE session_key = 9189 AND driver_number = $other});
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'kafka'}, 120),
	'the topic moved past the changes it can never take');
is(psql(q{SELECT count(*) FROM f1tel.sink_dead_letters WHERE sink = 'kafka'
	AND reason LIKE 'Kafka refused the message%too large%' AND change_id IS NOT NULL AND table_name = 'driver_laps'}),
	$nfew, "the $nfew laps over message.max.bytes are dead letters of the topic, with the reason");
note psql(q{SELECT reason FROM f1tel.sink_dead_letters WHERE sink = 'kafka' LIMIT 1});
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 120),
	'BigQuery took them (1.1 MB rows)');
is(psql(q{SELECT count(*) FROM f1tel.sink_dead_letters WHERE sink = 'bigquery'}), '0', 'no BigQuery dead letter');
my $dead_before = psql(q{SELECT count(*) FROM f1tel.sink_dead_letters});

# --- 4. a request refused for good pauses BigQuery, visibly, until a reload
bq_call($bq, 'POST', '/_fault', { status => 400, reason => 'invalid', count => 1000000, path_contains => 'insertAll',
	message => 'Invalid table ID "driver_laps".' });
psql(qq{UPDATE f1tel.drivers SET team_colour = '654321' WHERE session_key = 9189 AND driver_number = $other});
ok(wait_true(q{SELECT state = 'paused' FROM f1tel.sink_status WHERE sink = 'bigquery'}, 60),
	'HTTP 400 invalid: BigQuery is paused');
like(psql(q{SELECT last_error FROM f1tel.sink_status WHERE sink = 'bigquery'}), qr/HTTP 400 invalid/,
	'with the answer in last_error');
is(psql(q{SELECT status FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}), 'paused',
	'change_backlog says paused');
my $before = insert_all_requests();
sleep 8;
is(insert_all_requests(), $before, 'no request while paused (8 s)');
cmp_ok(pending('bigquery'), '>', 0, 'the changes stay queued');
bq_call($bq, 'DELETE', '/_fault');
psql('SELECT pg_reload_conf()');
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 60),
	'after a reload BigQuery gets them');
is(psql(q{SELECT state FROM f1tel.sink_status WHERE sink = 'bigquery'}), 'active', 'and is active again');
is(psql(q{SELECT count(*) FROM f1tel.sink_dead_letters}), $dead_before, 'and nothing was dead-lettered');

# --- 5. a destination not set: its subscriber and queue are dropped
psql(q{ALTER SYSTEM SET f1tel.enriched_topic = ''});
psql('SELECT pg_reload_conf()');
ok(wait_true(q{SELECT NOT EXISTS (SELECT FROM f1tel.change_subscribers WHERE name = 'kafka')}, 30),
	'topic emptied: the sink dropped the subscriber "kafka"');
psql(q{SELECT f1tel.subscribe('kafka')});    # one left behind (the sink not running, say)
is(psql(q{SELECT status || ' ' || (pending > 0) FROM f1tel.change_backlog WHERE subscriber = 'kafka'}),
	'disabled true', 'change_backlog says a subscriber of a destination not set is disabled');
psql('SELECT pg_reload_conf()');
ok(wait_true(q{SELECT NOT EXISTS (SELECT FROM f1tel.change_subscribers WHERE name = 'kafka')}, 30),
	'dropped again at the next reload');
psql(q{ALTER SYSTEM RESET f1tel.enriched_topic});
psql('SELECT pg_reload_conf()');
ok(wait_true(q{SELECT pending = 0 AND status = 'active' FROM f1tel.change_backlog WHERE subscriber = 'kafka'}, 120),
	'set again: the topic subscribes anew and gets the full state');
ok($node->log_contains(qr/dropped its subscriber "kafka"/), 'the drop is logged');

# --- 6. curl_multi_add_handle fails: an error with back-off, then it works
my $dir = PostgreSQL::Test::Utils::tempdir();
open(my $fh, '>', "$dir/shim.c") or die;
print $fh <<'EOF';
/* fails curl_multi_add_handle while the file $F1TEL_TEST_FAIL_ADD exists */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
typedef int (*add_fn) (void *, void *);
int
curl_multi_add_handle(void *multi, void *easy)
{
	const char *f = getenv("F1TEL_TEST_FAIL_ADD");
	add_fn real = (add_fn) dlsym(RTLD_NEXT, "curl_multi_add_handle");

	if (f != NULL && access(f, F_OK) == 0)
		return 7;				/* CURLM_ADDED_ALREADY */
	return real(multi, easy);
}
EOF
close $fh;
system('cc', '-shared', '-fPIC', '-o', "$dir/shim.so", "$dir/shim.c", '-ldl') == 0 or die 'cc failed';
$node->stop;
open($fh, '>', "$dir/fail") or die;
close $fh;
{
	local $ENV{LD_PRELOAD} = "$dir/shim.so";
	local $ENV{F1TEL_TEST_FAIL_ADD} = "$dir/fail";
	$node->start;
}
psql(qq{UPDATE f1tel.drivers SET team_colour = 'FEDCBA' WHERE session_key = 9189 AND driver_number = $other});
ok(wait_true(q{SELECT last_error LIKE '%curl_multi_add_handle%' AND state = 'retrying'
	FROM f1tel.sink_status WHERE sink = 'bigquery'}, 60),
	'curl_multi_add_handle failing: an error, retried');
note psql(q{SELECT last_error FROM f1tel.sink_status WHERE sink = 'bigquery'});
unlink "$dir/fail";
ok(wait_true(q{SELECT pending = 0 FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}, 60),
	'working again: BigQuery gets the changes');

$node->stop;
stop_bigquery($bq);
stop_broker($broker);

# --- 7. the callbacks only record
my %body;    # function name => body, of every function in src/sink and src/shared
my @callbacks;
foreach my $f (glob(repo_root() . '/src/{sink,shared}/*.c'))
{
	my $src = slurp_file($f);
	while ($src =~ /^(\w+)\(([^)]*)\)\n\{\n(.*?)^\}/msg)
	{
		$body{$1} = $3;
	}
	push @callbacks, $1 while $src =~ /rd_kafka_conf_set_\w+_cb\(\s*\w+,\s*(\w+)\)/g;
	push @callbacks, $1 while $src =~ /CURLOPT_\w+FUNCTION,\s*(\w+)\)/g;
}
cmp_ok(scalar(@callbacks), '>=', 4, 'callbacks found: ' . join(', ', @callbacks));
my $forbidden = qr/\b(ereport|elog|palloc\w*|repalloc|pfree|psprintf|pstrdup|pnstrdup|\w*StringInfo\w*|SPI_\w+|CHECK_FOR_INTERRUPTS|MemoryContext\w+)\b/;
foreach my $cb (@callbacks)
{
	my (%seen, @queue, @bad);
	@queue = ($cb);
	while (my $fn = shift @queue)
	{
		next if $seen{$fn}++ || !defined $body{$fn};
		push @bad, "$fn: $1" if $body{$fn} =~ $forbidden;
		push @queue, grep { defined $body{$_} } ($body{$fn} =~ /\b(\w+)\s*\(/g);
	}
	is(join('; ', @bad), '', "callback $cb (and what it calls here) makes no PostgreSQL call");
}
done_testing();
