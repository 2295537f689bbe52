# test/t/002_faults.pl — exactly once through crashes and outages.
#
# Three replays of 9189, each under a distinct session key (f1tel-feed
# --session-key-offset), each hit by a fault mid-stream: kill -9 of the ingest
# worker, an immediate-mode restart of PostgreSQL, the broker going down and
# up.  Each must end with every row of its clone stored once: the row counts
# equal the files', and the per-partition counters (incremented in the same
# transaction as the rows) show no batch was applied twice.
#
# The kill -9 also measures the recovery time (the kill to the first row the
# new worker stores).  On Apache Kafka the group runs with librdkafka's
# default session.timeout.ms (45 s): the dead worker's static membership
# (group.instance.id, src/ingest/consumer.c) lets its successor take the
# partitions back at once, so the bound (15 s) holds only with it; the mock
# broker has no static membership and its rebalances stall
# session.timeout.ms - 1 s (6 s here), so there the figure is only shown.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $on_kafka = ($ENV{F1TEL_TEST_KAFKA} // 'mock') eq 'kafka';
my $broker = start_broker(partitions => 64);
my $node = new_node('faults', broker => $broker,
	conf => $on_kafka
	? "f1tel.kafka_config = 'heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'"
	: '');

load_expected($node, ['9189']);
my $expected = expected_counts($node);

sub clone_counts
{
	my ($off) = @_;
	my %c;
	foreach my $t (staging_tables())
	{
		# meetings have no session; the grid is filed under the qualifying
		# session's key (9314): both are found by the race's meeting
		my $by_meeting = $t eq 'meetings' || $t eq 'starting_grid';
		my $col = $by_meeting ? 'meeting_key' : 'session_key';
		my $val = $by_meeting ? 1225 + $off : 9189 + $off;
		$c{$t} = $node->safe_psql('postgres', "SELECT count(*) FROM f1tel.$t WHERE $col = $val");
	}
	return \%c;
}

sub wait_clone
{
	my ($off) = @_;
	my $got;
	foreach (1 .. 720)
	{
		$got = clone_counts($off);
		return 1 unless grep { $got->{$_} != $expected->{$_} } keys %$expected;
		usleep(250_000);
	}
	diag join(', ', map { "$_ $got->{$_}/$expected->{$_}" } sort keys %$expected);
	return 0;
}

sub wait_rows_of
{
	my ($off, $n) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) > $n FROM f1tel.car_data WHERE session_key = " . (9189 + $off))
	  or die "no rows of clone $off arrived";
}

sub worker_pid
{
	my $pid;
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
	  or die 'no ingest worker';
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'});
}

# 1. kill -9 of the ingest worker mid-stream (the postmaster restarts everything)
my $feed = start_feed($broker, sessions => ['9189'], extra => [ '--session-key-offset', 100000 ]);
wait_rows_of(100000, 50000);
my $pid = worker_pid();
my $killed_at = time();
ok(kill('KILL', $pid), "kill -9 of the ingest worker $pid mid-stream");
# the postmaster restarts every process and recovers: wait for the new worker
# (right after the kill the old processes may still answer "not in recovery";
# on Apache Kafka the feed is done by then and nothing else gives them time)
$node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'f1tel ingest' AND pid <> $pid}) or die 'no recovery';
# recovery time: until a row committed by a transaction that began after the kill
my $recovered_at;
my $since = sprintf('%.3f', $killed_at);
while (time() < $killed_at + 120)
{
	my ($rc, $n) = $node->psql('postgres',
		"SELECT count(*) FROM f1tel.car_data WHERE session_key = 109189 AND ingested_at > to_timestamp($since)");
	if ($rc == 0 && $n > 0)
	{
		$recovered_at = time();
		last;
	}
	usleep(100_000);
}
ok(defined $recovered_at, 'the new worker stored rows after the kill');
my $recovery = defined $recovered_at ? $recovered_at - $killed_at : 999;
diag sprintf('recovery after kill -9 of the ingest worker: %.1f s to the first new row (%s)',
	$recovery, $on_kafka ? 'Apache Kafka, session.timeout.ms 45 s' : 'f1tel-broker');
cmp_ok($recovery, '<', 15, 'kill -9: the restarted worker resumed within 15 s (static membership)')
  if $on_kafka;
is(finish_feed($feed), 0, 'feed 1 delivered');
ok(wait_clone(100000), 'after kill -9: every row of the clone is there');

# 2. immediate-mode restart of PostgreSQL mid-stream
$feed = start_feed($broker, sessions => ['9189'], extra => [ '--session-key-offset', 200000 ]);
wait_rows_of(200000, 50000);
$node->stop('immediate');
$node->start;
is(finish_feed($feed), 0, 'feed 2 delivered');
ok(wait_clone(200000), 'after an immediate restart: every row of the clone is there');

# 3. the broker goes down and comes back up mid-stream (on a cluster the test
# does not own, F1TEL_TEST_BROKERS, the third replay runs without the outage).
# The feed waits up to 5 minutes for the broker: a real Kafka's stop and start
# can outlast the feed's default 30 s on a loaded machine, and a message the
# feed gives up on is the feed's loss, not f1tel's.
$feed = start_feed($broker, sessions => ['9189'],
	extra => [ '--session-key-offset', 300000, '--timeout-ms', 300000 ]);
wait_rows_of(300000, 50000);
my $during;
if (broker_controllable($broker))
{
	broker_down($broker);
	sleep 4;
	$during = $node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.car_data WHERE session_key = 309189');
	broker_up($broker);
}
is(finish_feed($feed), 0, 'feed 3 delivered across the outage');
ok(wait_clone(300000), 'after the broker outage: every row of the clone is there');
SKIP:
{
	skip 'the broker belongs to F1TEL_TEST_BROKERS: the test cannot stop it', 1
	  unless defined $during;
	cmp_ok($during, '<', $expected->{car_data}, 'the outage really interrupted the stream');
}

# exactly once: every message of the topics was applied once.  The counters
# move in the same transaction as the rows, so a batch applied twice would
# count its messages twice.  (A producer retry across the outage can put a
# record in the topic twice -- the mock broker does not enforce idempotence --
# so messages are counted, not records: each topic's messages are the sum of
# its partitions' high watermarks, all starting at offset 0.)
$node->poll_query_until('postgres', 'SELECT sum(lag) = 0 FROM f1tel.ingest_status')
  or die 'lag did not reach 0';
my %per_topic = %{ default_topic_of() };
foreach my $t (grep { $expected->{$_} } sort keys %per_topic)
{
	my ($applied, $messages) = split /\|/, $node->safe_psql('postgres',
		"SELECT sum(rows + dead_letters), sum(coalesce(high_watermark, 0)) FROM f1tel.ingest_status WHERE topic = '$per_topic{$t}'");
	is($applied, $messages, "$t: each of the $messages messages applied exactly once");
	cmp_ok($messages, '>=', 3 * $expected->{$t}, "$t: the topic holds the 3 x $expected->{$t} records");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letters');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM f1tel.ingest_status WHERE stored_offset IS DISTINCT FROM high_watermark AND high_watermark > 0'),
	'0', 'every partition stored up to its high watermark');

$node->stop;
stop_broker($broker);
done_testing();
