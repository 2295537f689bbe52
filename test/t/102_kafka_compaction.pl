# test/t/102_kafka_compaction.pl — the upsert topic compacted by Apache
# Kafka: after a replay of 9189 with the sink on, a fresh reader of
# f1-laps-enriched from its beginning, once the log cleaner has run, sees
# exactly one record per lap, whose values equal f1tel.driver_laps, and a
# deleted lap's tombstone has removed its value.
#
# The topic (one partition) gets small segments (segment.ms=500), is
# cleanable at once (min.cleanable.dirty.ratio=0.0001,
# max.compaction.lag.ms=1000) and keeps tombstones 1 s after cleaning
# (delete.retention.ms=1000); the broker's cleaner looks every 500 ms.  Kafka
# never cleans the last (active) segment, so the test ends with one record
# that no other shares a key with: a lap ingested by hand (9189's first
# lap, copied to session 10189 as --session-key-offset 1000 would), sent
# after the segment of the tombstone rolled.  Compaction is waited for by
# polling the topic (bounded), never by a fixed sleep.
# Needs Apache Kafka (F1TEL_TEST_KAFKA=kafka): the embedded broker does not
# compact.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

plan skip_all => 'needs Apache Kafka: the embedded broker does not compact (F1TEL_TEST_KAFKA=kafka)'
  if F1telTest::broker_kind() ne 'kafka';

my $broker = start_broker(partitions => 1, broker_config => 'log.cleaner.backoff.ms=500');
my ($rc, undef, $err) = kafka_python($broker, q{
r = ConfigResource("topic", "f1-laps-enriched", set_config={
    "cleanup.policy": "compact", "segment.ms": "500", "min.cleanable.dirty.ratio": "0.0001",
    "max.compaction.lag.ms": "1000", "delete.retention.ms": "1000"})
admin.alter_configs([r])[r].result(timeout=30)
print(policy("f1-laps-enriched"))
});
is($rc, 0, 'f1-laps-enriched: compacted, small segments, cleanable at once') or diag $err;

my $node = new_node('compaction', broker => $broker, conf => "f1tel.enriched_topic = 'f1-laps-enriched'\n");
sub psql { return $node->safe_psql('postgres', $_[0]) }

# every record of the topic from its beginning: [key, value or undef], and the high watermark
sub read_topic
{
	my ($rc, $out, $err) = kafka_python($broker, q{
c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "fresh-%f" % time.time(),
              "enable.auto.commit": False})
tp = TopicPartition("f1-laps-enriched", 0, 0)
lo, hi = c.get_watermark_offsets(tp, timeout=30)
print(json.dumps({"high": hi}))
tp.offset = lo
c.assign([tp])
pos = lo
while pos < hi:
    m = c.poll(5.0)
    if m is None:
        raise SystemExit("no message before offset %d of %d" % (pos, hi))
    if m.error():
        continue
    pos = m.offset() + 1
    v = m.value()
    print(json.dumps({"key": json.loads(m.key()), "value": json.loads(v) if v is not None else None}))
});
	die "reading the topic: $err" if $rc;
	my ($head, @recs) = map { decode_json($_) } split /\n/, $out;
	return ($head->{high}, \@recs);
}

sub key_of { my ($k) = @_; return join(':', map { $k->{$_} } qw(session_key driver_number lap_number)) }

# --- the replay, with the sink on
is(run_feed($broker, sessions => ['9189'], endpoints => [qw(sessions meetings drivers laps position race_control)]),
	0, 'feed replayed 9189');
$node->poll_query_until('postgres', 'SELECT count(*) = 949 FROM f1tel.driver_laps') or die 'not enriched';
ok(wait_for_sinks($node), 'the sink pushed every change');
my ($produced) = read_topic();
cmp_ok($produced, '>', 949, "the sink produced $produced messages for 949 laps (a lap changes as data comes in)");

# --- a deleted lap: a tombstone (in a new segment: the last one is older than segment.ms)
usleep(700_000);
my $gone = psql(q{SELECT session_key || ':' || driver_number || ':' || lap_number FROM f1tel.driver_laps
	ORDER BY driver_number, lap_number DESC LIMIT 1});
my ($s, $d, $l) = split /:/, $gone;
psql("DELETE FROM f1tel.laps WHERE session_key = $s AND driver_number = $d AND lap_number = $l");
is(psql('SELECT count(*) FROM f1tel.driver_laps'), '948', "lap $gone deleted");
ok(wait_for_sinks($node), 'the sink pushed its tombstone');

# --- the last record, alone in the active segment
usleep(700_000);
open(my $fh, '<', data_dir() . '/9189/laps.json') or die "laps.json: $!";
my $first = decode_json(do { local $/; <$fh> })->[0];
close $fh;
$first->{session_key} += 1000;
$first->{meeting_key} += 1000;
my $payload = encode_json($first) =~ s/'/''/gr;
psql("SELECT f1tel.ingest_message('f1_laps', '$payload')");
is(psql('SELECT count(*) FROM f1tel.driver_laps'), '949', 'one lap ingested by hand (session 10189)');
ok(wait_for_sinks($node), 'the sink pushed it');

# --- wait for the cleaner: no key twice
my ($high, $recs, %n);
my $deadline = time() + 180;
while (time() < $deadline)
{
	($high, $recs) = read_topic();
	%n = ();
	$n{ key_of($_->{key}) }++ foreach @$recs;
	last unless grep { $_ > 1 } values %n;
	usleep(500_000);
}
ok(!(grep { $_ > 1 } values %n), 'after compaction a fresh reader sees each key once ('
	  . scalar(@$recs) . " records of $high offsets)");
cmp_ok(scalar(@$recs), '<', $produced, 'the cleaner removed the superseded values');
my @values = grep { defined $_->{value} } @$recs;
my @tombstones = grep { !defined $_->{value} } @$recs;
is(scalar(@values), 949, 'one value per lap of f1tel.driver_laps');
ok(!(grep { key_of($_->{key}) eq $gone } @values), "no value of the deleted lap $gone");
ok(!(grep { key_of($_->{key}) ne $gone } @tombstones), 'no other tombstone');
note 'its tombstone is ' . (@tombstones ? 'still there' : 'gone too (delete.retention.ms passed)');

# the values equal f1tel.driver_laps, row for row
psql('CREATE TABLE topic_laps (r jsonb)');
psql("INSERT INTO topic_laps SELECT value FROM jsonb_array_elements('"
	  . (encode_json([ map { $_->{value} } @values ]) =~ s/'/''/gr) . "')");
my $cols = q{session_key, driver_number, lap_number, version, lap_duration, position, name_acronym,
	team_name, team_colour, full_name, is_pit_out_lap, st_speed,
	round(extract(epoch FROM date_start)::numeric, 3), round(extract(epoch FROM lap_end)::numeric, 3)};
my $tcols = q{(r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int,
	(r->>'version')::bigint, (r->>'lap_duration')::float8, (r->>'position')::int, r->>'name_acronym',
	r->>'team_name', r->>'team_colour', r->>'full_name', (r->>'is_pit_out_lap')::bool, (r->>'st_speed')::int,
	round(extract(epoch FROM (r->>'date_start')::timestamptz)::numeric, 3),
	round(extract(epoch FROM (r->>'lap_end')::timestamptz)::numeric, 3)};
is(psql("SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL SELECT $tcols FROM topic_laps)
	UNION ALL
	(SELECT $tcols FROM topic_laps EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"), '0',
	'the compacted topic, read from its beginning, equals f1tel.driver_laps');

$node->stop;
stop_broker($broker);
done_testing();
