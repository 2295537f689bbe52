# test/t/101_kafka_retention.pl — data deleted by Apache Kafka's retention
# BY TIME before f1tel read it: reported, never skipped, and recovered with
# f1tel.reset_offset (README, Operations).
#
# f1_laps (one partition) is retained by time: retention.ms=1000 while a
# batch is to be deleted (the broker checks every second and, once the
# whole log is older, rolls and deletes even the last segment), then one
# hour while the next batch is to be kept.  Each batch is a replay of
# 9189's laps cloned to another session key (f1tel-feed
# --session-key-offset), so every batch is new rows.
#  1. f1tel starts after batch A was deleted: offset 0 is gone, and
#     auto.offset.reset=error puts _AUTO_OFFSET_RESET into
#     ingest_status.last_error and the log; nothing of batch B is stored
#     (nothing skipped silently); reset_offset to the broker's oldest offset
#     and restart_workers ingest B.
#  2. f1tel stopped, batch C sent and deleted, D sent: on restart its stored
#     offset (C's first) was overtaken: the same error, nothing of D
#     stored; the same recovery ingests D.
# Needs Apache Kafka (F1TEL_TEST_KAFKA=kafka): the embedded broker has no
# retention by time (it drops data by size only, see 005_lifecycle.pl).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

plan skip_all => 'needs Apache Kafka: the embedded broker has no retention by time (F1TEL_TEST_KAFKA=kafka)'
  if F1telTest::broker_kind() ne 'kafka';

my $LAPS = 949;		# laps of 9189
my $broker = start_broker(partitions => 1, broker_config => 'log.retention.check.interval.ms=1000');
# f1_laps keeps its data $ms milliseconds (segments roll after 500 ms)
sub retention
{
	my ($ms) = @_;
	my ($rc, undef, $err) = kafka_python($broker, qq{
r = ConfigResource("topic", "f1_laps", set_config={"retention.ms": "$ms", "segment.ms": "500"})
admin.alter_configs([r])[r].result(timeout=30)
});
	die "alter_configs: $err" if $rc;
}

# low and high watermark of f1_laps partition 0
sub watermarks
{
	my ($rc, $out, $err) = kafka_python($broker, q{
c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "probe"})
print(*c.get_watermark_offsets(TopicPartition("f1_laps", 0), timeout=30))
});
	die "watermarks: $err" if $rc;
	return split ' ', $out;
}

# send batch $n (session 9189 + $n * 1000)
sub batch
{
	my ($n) = @_;
	return run_feed($broker, sessions => ['9189'], endpoints => ['laps'],
		extra => [ '--session-key-offset', $n * 1000 ]);
}

# wait (bounded) until retention has deleted everything below offset $upto
sub wait_deleted
{
	my ($upto) = @_;
	my $deadline = time() + 90;
	while (time() < $deadline)
	{
		my ($lo) = watermarks();
		return $lo if $lo >= $upto;
		usleep(250_000);
	}
	return -1;
}

# --- 1. f1tel starts after the first batch was deleted
retention(1000);
is(batch(1), 0, 'batch A (session 10189) sent');
is(wait_deleted($LAPS), $LAPS, 'retention.ms=1000 deleted batch A: the oldest offset is its end');
retention(3600000);
is(batch(2), 0, 'retention.ms=3600000: batch B (session 11189) sent');
my ($lo, $hi) = watermarks();
is($hi - $lo, $LAPS, 'and kept');

my $node = new_node('retention', broker => $broker);
my $laps_error = q{SELECT coalesce(last_error, '') FROM f1tel.ingest_status WHERE topic = 'f1_laps' AND partition = 0};
$node->poll_query_until('postgres', "SELECT ($laps_error) LIKE '%AUTO_OFFSET_RESET%'")
  or die 'no retention error reported';
pass('ingest_status.last_error of f1_laps/0 says _AUTO_OFFSET_RESET');
ok($node->log_contains(qr/AUTO_OFFSET_RESET/), 'the server log says it too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps'), '0',
	'nothing was skipped: no lap of batch B was stored');
$node->safe_psql('postgres', "SELECT f1tel.reset_offset('f1_laps', 0, $lo)");
$node->safe_psql('postgres', 'SELECT f1tel.restart_workers()');
$node->poll_query_until('postgres', qq{
	SELECT count(*) = $hi - $lo AND bool_and(session_key = 11189) FROM f1tel.laps})
  or die 'batch B not ingested after reset_offset';
$node->poll_query_until('postgres', "SELECT ($laps_error) = ''") or die 'error still standing';
pass('after reset_offset and restart_workers batch B is ingested, the error gone');
is($node->safe_psql('postgres', q{SELECT stored_offset FROM f1tel.ingest_status WHERE topic = 'f1_laps'}),
	$hi, 'the stored offset is B\'s end');
my $have = $hi - $lo;

# --- 2. f1tel stopped; its stored offset is overtaken by retention
$node->stop;
is(batch(3), 0, 'f1tel stopped: batch C (session 12189) sent');
retention(1000);
is(wait_deleted(3 * $LAPS), 3 * $LAPS, 'retention.ms=1000 deleted batch C (B too), f1tel\'s stored offset with it');
retention(3600000);
is(batch(4), 0, 'retention.ms=3600000: batch D (session 13189) sent');
($lo, $hi) = watermarks();
is($hi - $lo, $LAPS, 'and kept');
my $offset = -s $node->logfile;
$node->start;
$node->poll_query_until('postgres', "SELECT ($laps_error) LIKE '%AUTO_OFFSET_RESET%'")
  or die 'no retention error reported after the restart';
pass('restarted, its stored offset gone: last_error says _AUTO_OFFSET_RESET');
ok($node->log_contains(qr/AUTO_OFFSET_RESET/, $offset), 'the server log says it too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps WHERE session_key <> 11189'), '0',
	'nothing was skipped: no lap of batch D was stored');
$node->safe_psql('postgres', "SELECT f1tel.reset_offset('f1_laps', 0, $lo)");
$node->safe_psql('postgres', 'SELECT f1tel.restart_workers()');
$node->poll_query_until('postgres', qq{
	SELECT count(*) FILTER (WHERE session_key = 13189) = $hi - $lo AND count(*) = $have + $hi - $lo FROM f1tel.laps})
  or die 'batch D not ingested after reset_offset';
$node->poll_query_until('postgres', "SELECT ($laps_error) = ''") or die 'error still standing';
pass('after reset_offset and restart_workers batch D is ingested; C, deleted unread, is absent');

$node->stop;
stop_broker($broker);
done_testing();
