# test/t/003_bad_messages.pl — malformed messages mixed into a real stream.
#
# While f1tel-feed replays 9189, hand-written bad messages (this file's
# corpus, edge cases, not recorded data) are produced into the same topics.
# Every bad message must be in f1tel.dead_letters with its key, payload and
# the reason f1tel gives for it (each written out here), and nothing else;
# and every valid record in its table: the stream goes on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 8);
my $node = new_node('bad', broker => $broker,
	conf => "f1tel.max_message_bytes = 4096\nf1tel.batch_size = 500");
my @endpoints = qw(laps position drivers race_control sessions meetings);

# [ topic, payload (undef: none), the reason f1tel must give ]
my @corpus = (
	[ 'f1_laps',         'not json at all', 'laps: not valid JSON: null expected at byte 1' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,',
		'laps: not valid JSON: unexpected end of data at byte 38' ],
	[ 'f1_laps',         '', 'laps: empty message' ],
	[ 'f1_laps',         undef, 'laps: empty message' ],
	[ 'f1_laps',         '[1,2]', 'laps: record 0: expected a JSON object, got an integer' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1}', 'laps: missing key field "lap_number"' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":"1","lap_number":7}',
		'laps: field "driver_number": expected an integer, got a string' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,"lap_number":7,"date_start":"2023-02-30T06:04:05Z"}',
		'laps: field "date_start": invalid date-time "2023-02-30T06:04:05Z"' ],
	[ 'f1_position',     '{"session_key":9189,"driver_number":1,"date":"2023-11-19T06:00:00Z","position":0}',
		'position: field "position": 0 out of range [1, 100]' ],
	[ 'f1_position',     '[{"position":5,"driver_number":44,"date":"2023-11-19T06:00:00Z","session_key":9189},{"position":6}]',
		'position: record 1: missing key field "session_key"' ],
	[ 'f1_drivers',      "{\"session_key\":9189,\"driver_number\":1,\"full_name\":\"\xff\"}",
		'drivers: not valid JSON: invalid UTF-8 at byte 51' ],
	[ 'f1-race_control', '{"session_key":9189,"date":"2023-11-19T06:00:00Z","category":"Flag"}',
		'race_control: missing required field "message"' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,"lap_number":7,"pad":"' . ('x' x 5000) . '"}',
		'laps: message of 5062 bytes is larger than f1tel.max_message_bytes (4096)' ],
);

my $input = '';
for my $i (0 .. $#corpus)
{
	my ($topic, $payload) = @{ $corpus[$i] }[ 0, 1 ];
	$input .= join("\t", $topic, "bad-$i", defined $payload ? unpack('H*', $payload) : '-') . "\n";
}

my $feed = start_feed($broker, sessions => ['9189'], endpoints => \@endpoints, speed => 'max');
my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/produce.py', "$broker->{brokers}" ],
	'<', \$input, '>', \$out, '2>', \$err);
is($?, 0, 'the bad messages were produced') or diag $err;
is(finish_feed($feed), 0, 'the feed delivered 9189');

load_expected($node, ['9189'], \@endpoints);
ok(wait_for_counts($node, expected_counts($node, \@endpoints), 120), 'every valid record arrived');
foreach my $t (@endpoints)
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files (missing/extra rows)");
}

$node->poll_query_until('postgres',
	'SELECT count(*) >= ' . scalar(@corpus) . ' FROM f1tel.dead_letters');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), scalar(@corpus),
	'every bad message, and nothing else, is a dead letter')
  or diag $node->safe_psql('postgres',
	"SELECT convert_from(key, 'UTF8') || ': ' || reason FROM f1tel.dead_letters ORDER BY id");
for my $i (0 .. $#corpus)
{
	my ($topic, $payload, $reason) = @{ $corpus[$i] };
	my $expect = defined $payload ? "'\\x" . unpack('H*', $payload) . "'::bytea" : 'NULL';
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE topic = '$topic' AND payload IS NOT DISTINCT FROM $expect
		                         AND "offset" >= 0)
		FROM f1tel.dead_letters WHERE key = convert_to('bad-$i', 'UTF8')}),
		'1', "bad message $i is a dead letter with its payload");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(reason, ' | ') FROM f1tel.dead_letters WHERE key = convert_to('bad-$i', 'UTF8')}),
		$reason, "bad message $i: the reason");
}

$node->stop;
stop_broker($broker);
done_testing();
