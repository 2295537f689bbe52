# test/t/003_bad_messages.pl — malformed messages mixed into a real stream.
#
# While f1tel-feed replays 9189, hand-written bad messages (this file's
# corpus, edge cases, not recorded data) are produced into the same topics.
# Every bad message must be in f1tel.dead_letters with its key and payload,
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

my @corpus = (
	[ 'f1_laps',         'not json at all' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,' ],
	[ 'f1_laps',         '' ],
	[ 'f1_laps',         undef ],
	[ 'f1_laps',         '[1,2]' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1}' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":"1","lap_number":7}' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,"lap_number":7,"date_start":"2023-02-30T06:04:05Z"}' ],
	[ 'f1_position',     '{"session_key":9189,"driver_number":1,"date":"2023-11-19T06:00:00Z","position":0}' ],
	[ 'f1_position',     '[{"position":5,"driver_number":44,"date":"2023-11-19T06:00:00Z","session_key":9189},{"position":6}]' ],
	[ 'f1_drivers',      "{\"session_key\":9189,\"driver_number\":1,\"full_name\":\"\xff\"}" ],
	[ 'f1-race_control', '{"session_key":9189,"date":"2023-11-19T06:00:00Z","category":"Flag"}' ],
	[ 'f1_laps',         '{"session_key":9189,"driver_number":1,"lap_number":7,"pad":"' . ('x' x 5000) . '"}' ],
);

my $input = '';
for my $i (0 .. $#corpus)
{
	my ($topic, $payload) = @{ $corpus[$i] };
	$input .= join("\t", $topic, "bad-$i", defined $payload ? unpack('H*', $payload) : '-') . "\n";
}

my $feed = start_feed($broker, sessions => ['9189'], endpoints => \@endpoints, speed => 'max');
my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/produce.py', "127.0.0.1:$broker->{port}" ],
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
	'SELECT count(*) = ' . scalar(@corpus) . ' FROM f1tel.dead_letters') or diag 'dead letters missing';
for my $i (0 .. $#corpus)
{
	my ($topic, $payload) = @{ $corpus[$i] };
	my $expect = defined $payload ? "'\\x" . unpack('H*', $payload) . "'::bytea" : 'NULL';
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FILTER (WHERE topic = '$topic' AND payload IS NOT DISTINCT FROM $expect
		                         AND reason <> '' AND "offset" >= 0)
		FROM f1tel.dead_letters WHERE key = convert_to('bad-$i', 'UTF8')}),
		'1', "bad message $i is a dead letter with its payload");
}
note $node->safe_psql('postgres', "SELECT convert_from(key, 'UTF8') || ': ' || reason FROM f1tel.dead_letters ORDER BY id");

$node->stop;
stop_broker($broker);
done_testing();
