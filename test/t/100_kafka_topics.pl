# test/t/100_kafka_topics.pl — topics on a real Apache Kafka (admin API).
#
#  1. f1tel-feed --create-topics creates the topics it publishes to that are
#     missing, with the partitions and replication factor asked for, and
#     leaves an existing one alone (its partition count stays); one the
#     broker refuses to create ends the run with exit status 1;
#  2. the sink creates its missing upsert topic compacted
#     (cleanup.policy=compact) before its first message;
#  3. an existing upsert topic that is not compacted: the server log has the
#     sink's WARNING with the kafka-configs hint, and the sink goes on.
# Kafka is started with only f1_drivers created (2 partitions), so that the
# rest is up to f1tel.  Needs Apache Kafka (F1TEL_TEST_KAFKA=kafka): the
# embedded broker has no admin API.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs Apache Kafka: the embedded broker has no admin API (F1TEL_TEST_KAFKA=kafka)'
  if F1telTest::broker_kind() ne 'kafka';

my $broker = start_broker(partitions => 2, topics => 'f1_drivers');
my @endpoints = qw(sessions meetings drivers laps position race_control);
my @topics = qw(f1_sessions f1_meetings f1_laps f1_position f1-race_control);

sub feed
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'f1tel-feed', '--brokers', $broker->{brokers}, '--speed', 'max',
		'--endpoints', join(',', @endpoints), @args, data_dir() . '/9189' ], '>', \$out, '2>', \$err);
	return ($? >> 8, $err);
}

# "topic partitions rf policy" of each topic named, one a line
sub describe
{
	my ($rc, $out, $err) = kafka_python($broker, 'names = ' . join(',', map { "\"$_\"" } @_, '') . "\n" . q{
md = admin.list_topics(timeout=30)
for t in names:
    if t not in md.topics or md.topics[t].error is not None:
        print(t, "missing")
        continue
    parts = md.topics[t].partitions
    print(t, len(parts), len(parts[0].replicas), policy(t))
});
	die "describe: $err" if $rc;
	return { map { my ($t, @r) = split / /; ($t => "@r") } split /\n/, $out };
}

# --- 1. f1tel-feed --create-topics
my $before = describe(@topics);
is(scalar(grep { $before->{$_} eq 'missing' } @topics), scalar(@topics), 'the feed\'s topics but f1_drivers are missing');
my ($rc, $err) = feed('--create-topics', '--partitions', '3', '--replication-factor', '1');
is($rc, 0, 'f1tel-feed --create-topics --partitions 3 --replication-factor 1 replayed 9189') or diag $err;
like($err, qr/topic f1_drivers already exists: left as it is/, 'it says f1_drivers already exists');
is(scalar(() = $err =~ /created topic \S+ \(3 partitions, replication factor 1\)/g), scalar(@topics),
	'it says it created the other five');
my $after = describe(@topics, 'f1_drivers');
is(join(' ', map { $after->{$_} } @topics), join(' ', ('3 1 delete') x @topics),
	'each created topic has 3 partitions, replication factor 1');
is($after->{f1_drivers}, '2 1 delete', 'f1_drivers, which existed, kept its 2 partitions');
($rc, $err) = feed('--create-topics', '--replication-factor', '3', '--topic', 'laps=f1_laps_rf3');
is($rc, 1, 'a topic the broker cannot create (replication factor 3 on one broker): exit status 1');
like($err, qr/could not create topic f1_laps_rf3: .*replication factor/i, 'with the broker\'s reason');
unlike($err, qr/delivered/, 'and nothing sent');
($rc, $err) = feed('--create-topics', '--quiet');
is($rc, 0, 'a second run with --create-topics: every topic exists, nothing to create') or diag $err;
is($err, '', 'and --quiet prints nothing about them');

# --- 2. the sink creates its upsert topic compacted
is(describe('f1-laps-enriched')->{'f1-laps-enriched'}, 'missing', 'f1-laps-enriched does not exist yet');
my $node = new_node('topics', broker => $broker, conf => "f1tel.enriched_topic = 'f1-laps-enriched'\n");
$node->poll_query_until('postgres', 'SELECT count(*) = 949 FROM f1tel.driver_laps') or die 'not ingested';
ok(wait_for_sinks($node), 'the sink pushed every change');
ok($node->log_contains(qr/created the topic "f1-laps-enriched" with cleanup.policy=compact/),
	'the sink says it created the topic compacted');
is(describe('f1-laps-enriched')->{'f1-laps-enriched'}, '2 1 compact',
	'f1-laps-enriched exists, compacted, with the broker\'s default partitions and replication factor');
($rc, my $count) = kafka_python($broker, q{
md = admin.list_topics("f1-laps-enriched", timeout=30)
c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "count"})
print(sum(c.get_watermark_offsets(TopicPartition("f1-laps-enriched", p), timeout=30)[1]
          for p in md.topics["f1-laps-enriched"].partitions))
});
chomp $count;
cmp_ok($count, '>=', 949, "the topic holds the laps ($count messages)");
ok(!$node->log_contains(qr/is not compacted/), 'no warning about compaction');

# --- 3. an existing topic that is not compacted: a WARNING with the fix
($rc, undef, $err) = kafka_python($broker, q{
admin.create_topics([NewTopic("f1-laps-plain", 1, 1)])["f1-laps-plain"].result(timeout=30)
});
is($rc, 0, 'created f1-laps-plain with cleanup.policy=delete') or diag $err;
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "f1tel.enriched_topic = 'f1-laps-plain'\n");
$node->reload;
# a change to push makes the sink build its producer for the new topic
$node->poll_query_until('postgres', q{SELECT setting = 'f1-laps-plain' FROM pg_settings WHERE name = 'f1tel.enriched_topic'})
  or die 'not reloaded';
$node->safe_psql('postgres', q{UPDATE f1tel.drivers SET team_colour = 'ABCDEF'
	WHERE session_key = 9189 AND driver_number = (SELECT min(driver_number) FROM f1tel.drivers)});
ok($node->wait_for_log(qr/WARNING:  f1tel sink: the topic "f1-laps-plain" is not compacted \(cleanup.policy=delete\)/, $offset),
	'the sink WARNs that f1-laps-plain is not compacted');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/HINT:  Make it compacted: kafka-configs.sh --bootstrap-server HOST:PORT --alter --entity-type topics --entity-name f1-laps-plain --add-config cleanup.policy=compact/,
	'its hint says how to fix it');
ok(wait_for_sinks($node), 'and the sink goes on: every change pushed');
is(scalar(() = $log =~ /is not compacted/g), 1, 'the warning is given once');
is(describe('f1-laps-plain')->{'f1-laps-plain'}, '1 1 delete', 'the sink left the existing topic as it was');

$node->stop;
stop_broker($broker);
done_testing();
