# test/t/110_kafka_cluster.pl — ingest and the sink through a three-broker
# Apache Kafka losing its nodes: kill -9 of the broker that leads the most
# car_data partitions mid-stream, then a rolling restart of all three.
#
# The cluster (test/kafka/kafka.sh start --nodes 3) replicates every topic
# three times with min.insync.replicas=2; the feed's producer is idempotent
# with acks=all (f1tel-feed's own settings, given again with -X here), so
# Kafka holds each record once.  While a partition's leader is dead its
# fetches stall until the controller elects another; f1tel.ingest_status
# shows it: the consumer's error (a broker down) in last_error of the
# worker's partitions, standing (last_error_at after last_batch_at) where
# no batch came since, and cleared by the next batch once the new leader
# serves.  At the end: zero lost and zero duplicated rows (counts and
# fields equal the files, per-partition counters as in 002), and the sink's
# BigQuery driver_laps, latest version of each lap, equals f1tel.driver_laps.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use F1telCluster;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

plan skip_all => 'needs Apache Kafka: a three-broker cluster' unless on_kafka();

my $cluster = start_cluster(partitions => 8);
my $leaders = partition_leaders($cluster);
my @f1 = grep { m{^f1} } keys %$leaders;
is(scalar(grep { $leaders->{$_}[2] == 3 && $leaders->{$_}[1] == 3 } @f1), scalar(@f1),
	'every partition of the f1tel topics has three replicas, all in sync (' . scalar(@f1) . ' partitions)');

my $bq = start_bigquery();
my $node = new_node('cluster', broker => $cluster,
	conf => sink_conf($bq));
load_expected($node, ['9189']);
my $expected = expected_counts($node);

# partitions whose error stands: recorded after their last batch
my $standing = q{last_error LIKE 'Kafka error%' AND last_error_at > coalesce(last_batch_at, '-infinity')};

# about three and a half minutes of the race, so that every fault is mid-stream
my $feed = start_feed($cluster, sessions => ['9189'], speed => 30,
	extra => [ '--timeout-ms', 180000,
		'-X', 'enable.idempotence=true', '-X', 'acks=all' ]);
$node->poll_query_until('postgres', 'SELECT sum(rows) > 20000 FROM f1tel.ingest_status')
  or die 'no rows arrive';

# --- kill -9 of the busiest leader
my ($victim, $led) = busiest_leader($cluster, 'f1_car_data');
my $t_kill = time();
cluster_sh($cluster, 'kill', '--node', $victim);
note "killed node $victim, the leader of $led of the 8 f1_car_data partitions";
my ($most_standing, $example) = (0, '');
my ($stall, $worst, $watched) = watch_change($node, $t_kill, sub {
	my ($rc, $out) = $node->psql('postgres',
		"SELECT count(*), min(topic || '/' || partition || ': ' || last_error) FROM f1tel.ingest_status WHERE $standing");
	if ($rc == 0)
	{
		my ($n, $e) = split /\|/, $out, 2;
		($most_standing, $example) = ($n, $e) if $n > $most_standing;
	}
	return 1;
}, 15, 180);
diag sprintf('kill -9 of node %d (leader of %d car_data partitions): no batch stored for at most %.1f s; '
	  . 'the worst partition went %s s without a batch (%s)', $victim, $led, $stall,
	defined $worst ? sprintf('%.1f', $worst) : 'more than 180', $watched);
ok(defined $worst, 'every partition resumed with one node dead (new leaders elected)');
cmp_ok($most_standing, '>', 0, "ingest_status showed the outage ($most_standing partitions, e.g. $example)");
my $t_up = time();
cluster_sh($cluster, 'up', '--node', $victim);
my $isr = wait_isr_full($cluster, 240);
note sprintf('node %d back, every ISR full again %.1f s after its start', $victim, time() - $t_up);
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM f1tel.ingest_status WHERE $standing AND lag > 0"),
	'ingest_status shows the recovery: no partition with data waiting has its error standing');

# --- rolling restart: each node stopped and started again, the ISR full before the next
foreach my $n (1 .. 3)
{
	my $t0 = time();
	my $before = applied_total($node);
	cluster_sh($cluster, 'down', '--node', $n);
	cluster_sh($cluster, 'up', '--node', $n);
	my $isr_s = wait_isr_full($cluster, 240);
	my $after = applied_total($node);
	note sprintf('rolling restart, node %d: down, up and every ISR full in %.1f s; %d messages applied meanwhile',
		$n, time() - $t0, $after - $before);
}
pass('rolling restart of the three nodes, each ISR full again before the next');

is(finish_feed($feed), 0, 'the feed delivered 9189 through the faults');
ok(wait_for_counts($node, $expected, 300), 'every table complete');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files");
}
check_exactly_once($node, $expected, 'through the faults');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letters');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM f1tel.ingest_status WHERE $standing AND lag > 0"),
	'no partition left with a standing error and data waiting');

# --- the sink: BigQuery's driver_laps, latest version of each lap, equals f1tel.driver_laps
ok(wait_for_sinks($node, 300), 'both sinks pushed every change');
my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
$node->safe_psql('postgres', 'CREATE TABLE bq_driver_laps (r jsonb)');
$node->safe_psql('postgres', "INSERT INTO bq_driver_laps SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
is($node->safe_psql('postgres', q{
	SELECT count(*) - count(DISTINCT (r->>'session_key', r->>'driver_number', r->>'lap_number', r->>'version'))
	FROM bq_driver_laps}), '0', 'no row version stored twice in BigQuery');
my $cols = q{session_key, driver_number, lap_number, version, lap_duration, position, name_acronym,
	team_name, is_pit_out_lap, st_speed, round(extract(epoch FROM date_start)::numeric, 3) AS date_start};
my $bqcols = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int,
	(r->>'version')::bigint, (r->>'lap_duration')::float8, (r->>'position')::int, r->>'name_acronym',
	r->>'team_name', (r->>'is_pit_out_lap')::bool, (r->>'st_speed')::int, round((r->>'date_start')::numeric, 3)};
my $latest = "SELECT DISTINCT ON ((r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int) $bqcols
	FROM bq_driver_laps ORDER BY (r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int, (r->>'version')::bigint DESC";
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'), $expected->{laps}, 'driver_laps complete');
is($node->safe_psql('postgres', "SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL ($latest))
	UNION ALL
	(($latest) EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"), '0',
	'BigQuery driver_laps, latest version of each lap, equals f1tel.driver_laps row for row');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.sink_dead_letters'), '0', 'no sink dead letters');
unlike(slurp_file($node->logfile), qr/BUG: .* inside a librdkafka poll/, 'no database call inside a librdkafka callback');

$node->stop;
stop_bigquery($bq);
stop_cluster($cluster);
done_testing();
