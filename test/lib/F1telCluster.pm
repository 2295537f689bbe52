# test/lib/F1telCluster.pm — helpers of the tests that need a real Apache
# Kafka: a three-broker cluster's faults (test/t/110_kafka_cluster.pl) and
# consumer-group rebalances (test/t/111_kafka_rebalance.pl).
#
# Rules a reader must know: the cluster is the one start_broker() of
# F1telTest gave ({kafka_dir}); its nodes are driven through
# test/kafka/kafka.sh (kill, down, up, leaders, wait-isr).  Progress is
# measured on f1tel.ingest_status (rows + dead letters, which move in the
# same transaction as the rows), sampled by the test's own clock.
package F1telCluster;

use strict;
use warnings;

use Exporter 'import';
use F1telTest;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(
  on_kafka start_cluster stop_cluster cluster_sh partition_leaders busiest_leader wait_isr_full
  applied_total watch_progress longest_stall watch_change check_exactly_once TOPIC_OF
);

sub on_kafka { return ($ENV{F1TEL_TEST_KAFKA} // 'mock') eq 'kafka' }

my @started;

# A three-node Apache Kafka (kafka.sh start --nodes 3: replication factor 3,
# min.insync.replicas 2), the f1tel topics created with $opt{partitions}
# partitions.  The same hash as F1telTest::start_broker (port: node 1's),
# plus {bootstrap}: every node's address.
sub start_cluster
{
	my (%opt) = @_;
	my $partitions = $opt{partitions} // 4;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/kafka3_$port";
	my ($out, $err) = ('', '');
	my $t0 = time();
	IPC::Run::run([ repo_root() . '/test/kafka/kafka.sh', 'start', '--dir', $dir, '--nodes', 3,
		'--port', $port, '--partitions', $partitions ], '>', \$out, '2>', \$err)
	  or BAIL_OUT("a three-node Apache Kafka did not start: $err");
	push @started, $dir;
	my ($bootstrap) = $out =~ /^(\S+)\s*\z/m;
	note sprintf('Apache Kafka, three nodes (%s), %d partitions per topic (started in %.1f s)',
		$bootstrap, $partitions, time() - $t0);
	return { port => $port, partitions => $partitions, kafka_dir => $dir,
		bootstrap => $bootstrap, brokers => $bootstrap, log => "$dir/node1/server.log" };
}

sub stop_cluster
{
	my ($broker) = @_;
	cluster_sh($broker, 'stop');
	@started = grep { $_ ne $broker->{kafka_dir} } @started;
}

# a test that dies leaves no node behind
END
{
	local $?;
	IPC::Run::run([ repo_root() . '/test/kafka/kafka.sh', 'stop', '--dir', $_ ]) foreach @started;
}

# test/kafka/kafka.sh $what --dir <the broker's dir> @args; dies on failure
sub cluster_sh
{
	my ($broker, $what, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ repo_root() . '/test/kafka/kafka.sh', $what, '--dir', $broker->{kafka_dir}, @args ],
		'>', \$out, '2>', \$err)
	  or die "kafka.sh $what @args: $err";
	return $out;
}

# { "topic/partition" => [leader, isr, replicas] }
sub partition_leaders
{
	my ($broker) = @_;
	my %l;
	foreach (split /\n/, cluster_sh($broker, 'leaders'))
	{
		my ($t, $p, $leader, $isr, $rep) = split / /;
		$l{"$t/$p"} = [ $leader, $isr, $rep ];
	}
	return \%l;
}

# The node that leads the most of the given topic's partitions
sub busiest_leader
{
	my ($broker, $topic) = @_;
	my $l = partition_leaders($broker);
	my %n;
	$n{ $l->{$_}[0] }++ foreach grep { m{^\Q$topic\E/} } keys %$l;
	my ($node) = sort { $n{$b} <=> $n{$a} || $a <=> $b } keys %n;
	return ($node, $n{$node});
}

sub wait_isr_full
{
	my ($broker, $timeout) = @_;
	my $t0 = time();
	cluster_sh($broker, 'wait-isr', '--timeout', $timeout // 180);
	return time() - $t0;
}

# every message applied so far (rows + dead letters of all partitions)
sub applied_total
{
	my ($node) = @_;
	my ($rc, $out) = $node->psql('postgres',
		'SELECT coalesce(sum(rows + dead_letters), 0) FROM f1tel.ingest_status');
	return $rc == 0 ? $out : undef;
}

# Samples applied_total every 100 ms while $until->() is false (at most
# $timeout s): a list of [time, total] (a failed query is left out).
sub watch_progress
{
	my ($node, $until, $timeout) = @_;
	my @s;
	my $deadline = time() + ($timeout // 120);
	while (time() < $deadline)
	{
		my $n = applied_total($node);
		push @s, [ time(), $n ] if defined $n;
		last if $until->();
		usleep(100_000);
	}
	return \@s;
}

# The longest time in the samples during which the total did not move, from
# $from on (the change's time): the gaps between moves (and from $from to the
# first), not the quiet end once everything is in.
sub longest_stall
{
	my ($samples, $from) = @_;
	my ($longest, $last_move, $prev) = (0, $from, undef);
	foreach my $s (@$samples)
	{
		if ($s->[0] < $from)
		{
			$prev = $s->[1];
			next;
		}
		if (defined $prev && $s->[1] != $prev)
		{
			my $gap = $s->[0] - $last_move;
			$longest = $gap if $gap > $longest;
			$last_move = $s->[0];
		}
		$prev = $s->[1];
	}
	return $longest;
}

# What a change (at time $t0) did to ingest: progress sampled every 100 ms
# until $done->() holds, at least $min s after $t0 and every active
# partition moving (its last batch under 3 s old), or $timeout s.  Returns
# (stall, worst, note): the longest time no batch was stored at all
# (longest_stall); the worst partition's stall, the largest age of the last
# batch seen in any partition of car_data or location (the topics with a
# message every few milliseconds per driver) that had a batch in the 5 s
# before $t0, undef if they did not all move again; and a note on what was
# watched.  A worker gone without leaving the group stalls its partitions
# for session.timeout.ms, which shows in the second figure even while the
# other workers go on.
sub watch_change
{
	my ($node, $t0, $done, $min, $timeout) = @_;
	my $since = sprintf('%.3f', $t0);
	$node->safe_psql('postgres', qq{
		CREATE SCHEMA IF NOT EXISTS f1tel_test;
		DROP TABLE IF EXISTS f1tel_test.active_at_change;
		CREATE TABLE f1tel_test.active_at_change AS
		SELECT topic, partition FROM f1tel.ingest_status
		 WHERE topic IN ('f1_car_data', 'f1_location')
		   AND last_batch_at > to_timestamp($since) - interval '5 s'});
	my $active = $node->safe_psql('postgres', 'SELECT count(*) FROM f1tel_test.active_at_change');
	my ($worst, $moving) = (0, 0);
	my $samples = watch_progress($node, sub {
		my ($rc, $out) = $node->psql('postgres', q{
			SELECT coalesce(max(extract(epoch FROM pg_catalog.clock_timestamp() - s.last_batch_at)), 0)
			FROM f1tel_test.active_at_change a JOIN f1tel.ingest_status s USING (topic, partition)});
		if ($rc == 0)
		{
			$worst = $out if $out > $worst;
			$moving = $out < 3;
		}
		return $moving && time() > $t0 + $min && $done->();
	}, $timeout);
	return (longest_stall($samples, $t0), $moving ? $worst : undef,
		sprintf('%d samples over %.1f s, %d active partitions', scalar(@$samples),
			@$samples ? $samples->[-1][0] - $t0 : 0, $active));
}

use constant TOPIC_OF => F1telTest::default_topic_of();

# Exactly once, as test/t/002_faults.pl checks it: once the lag is 0, each
# topic's applied messages (rows + dead letters, counted in the batches'
# transactions) equal its messages (the sum of its partitions' high
# watermarks, all from offset 0), and every partition is stored up to its
# high watermark.  $records: the records each endpoint got from the files
# (a lower bound of the messages; a producer retry may add some).
sub check_exactly_once
{
	my ($node, $records, $label) = @_;
	$node->poll_query_until('postgres', 'SELECT sum(lag) = 0 FROM f1tel.ingest_status')
	  or diag 'lag did not reach 0';
	foreach my $t (sort keys %$records)
	{
		my ($applied, $messages) = split /\|/, $node->safe_psql('postgres',
			"SELECT sum(rows + dead_letters), sum(coalesce(high_watermark, 0)) FROM f1tel.ingest_status WHERE topic = '"
			  . TOPIC_OF->{$t} . "'");
		is($applied, $messages, "$label: $t: each of the $messages messages applied exactly once");
		cmp_ok($messages, '>=', $records->{$t}, "$label: $t: the topic holds the $records->{$t} records");
	}
	is($node->safe_psql('postgres',
		'SELECT count(*) FROM f1tel.ingest_status WHERE stored_offset IS DISTINCT FROM high_watermark AND high_watermark > 0'),
		'0', "$label: every partition stored up to its high watermark");
}

1;
