# test/t/111_kafka_rebalance.pl — ingest workers added and removed
# mid-stream (f1tel.ingest_workers 1 -> 3 -> 1 and a reload), exactly once,
# and how long each rebalance stalls ingest.
#
# A paced replay of 9189 (--speed 60, about two minutes) keeps messages
# coming while the launcher starts two more workers and later stops them.
# Each stopped worker leaves the consumer group on its way out (an
# unsubscribe: a static member's close alone sends no LeaveGroup), so its
# partitions move at once; without that they would wait for
# session.timeout.ms, which on Apache Kafka is librdkafka's default here
# (45 s).  Two figures per change: the longest time no batch was stored at
# all, and the longest time a partition of car_data or location that was
# receiving messages went without a batch (the worst partition's stall).  Both must stay under
# 15 s on Apache Kafka, under 30 s on the mock broker, whose rebalances
# stall session.timeout.ms - 1 s (6 s here) and which has no static
# membership.  Then every record is there once: the counts equal the files',
# and the per-partition counters show no batch applied twice.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use F1telCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $bound = on_kafka() ? 15 : 30;
my $broker = start_broker(partitions => 16);
my $node = new_node('rebalance', broker => $broker, workers => 1,
	conf => on_kafka()
	? "f1tel.kafka_config = 'heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'"
	: '');
load_expected($node, ['9189']);
my $expected = expected_counts($node);

sub ingest_pids
{
	return split /\n/, $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'f1tel ingest' ORDER BY pid});
}

# f1tel.ingest_workers = $n and a reload; (stall, worst partition's stall)
sub change_workers
{
	my ($n) = @_;
	my $t0 = time();
	$node->safe_psql('postgres', "ALTER SYSTEM SET f1tel.ingest_workers = $n");
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my ($stall, $worst, $watched) = watch_change($node, $t0, sub { scalar(ingest_pids()) == $n }, 15, 90);
	note "watched: $watched";
	return ($stall, $worst);
}

sub figure { return defined $_[0] ? sprintf('%.1f', $_[0]) : 'more than 90' }

$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
  or die 'no ingest worker';
my $feed = start_feed($broker, sessions => ['9189'], speed => 60);
$node->poll_query_until('postgres', 'SELECT sum(rows) > 20000 FROM f1tel.ingest_status')
  or die 'no rows arrive';

# --- 1 -> 3
my $log_from = -s $node->logfile;
my ($stall_add, $worst_add) = change_workers(3);
is(scalar(ingest_pids()), 3, 'three ingest workers run after f1tel.ingest_workers = 3 and a reload');
my $log = substr(slurp_file($node->logfile), $log_from);
my %assigned = map { $_ => 1 } ($log =~ /\[(\d+)\][^\n]*?LOG:  f1tel ingest: assigned [1-9]\d* partition/g);
is(scalar(keys %assigned), 3, 'after the change, three workers were assigned partitions');
diag sprintf('rebalance 1 -> 3 workers: no batch stored for at most %.1f s; the worst partition went %s s without a batch',
	$stall_add, figure($worst_add));
cmp_ok($stall_add, '<', $bound, "1 -> 3: ingest stalled less than $bound s");
ok(defined $worst_add && $worst_add < $bound, "1 -> 3: no partition stalled $bound s");

# --- 3 -> 1
sleep 3;
my %before = map { $_ => 1 } ingest_pids();
$log_from = -s $node->logfile;
my ($stall_rm, $worst_rm) = change_workers(1);
my @after = ingest_pids();
is(scalar(@after), 1, 'one ingest worker runs after f1tel.ingest_workers = 1 and a reload');
ok($before{ $after[0] // 0 }, 'the remaining worker is one of the three (not a restart)');
$log = substr(slurp_file($node->logfile), $log_from);
like($log, qr/stopping f1tel ingest 3 \(f1tel.ingest_workers = 1\)/, 'the launcher stopped worker 3');
# every partition of every endpoint topic: 16 each
my $all_partitions = 16 * scalar(keys %{ default_topic_of() });
like($log, qr/\[$after[0]\][^\n]*?LOG:  f1tel ingest: assigned $all_partitions partition/,
	"the remaining worker took over all $all_partitions partitions");
diag sprintf('rebalance 3 -> 1 workers: no batch stored for at most %.1f s; the worst partition went %s s without a batch',
	$stall_rm, figure($worst_rm));
cmp_ok($stall_rm, '<', $bound, "3 -> 1: ingest stalled less than $bound s");
ok(defined $worst_rm && $worst_rm < $bound,
	"3 -> 1: no partition stalled $bound s (the stopped workers left the group)");

# --- exactly once
is(finish_feed($feed), 0, 'the feed delivered 9189');
ok(wait_for_counts($node, $expected, 240), 'every table complete');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files");
}
check_exactly_once($node, $expected, 'after 1 -> 3 -> 1');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letters');
unlike(slurp_file($node->logfile), qr/BUG: .* inside a librdkafka poll/, 'no database call inside a librdkafka callback');

$node->stop;
stop_broker($broker);
done_testing();
