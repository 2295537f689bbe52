# test/t/001_replay.pl — replay 9189 and 9606 through f1tel-broker into f1tel.
#
# Every staging table must end with exactly the rows of the files after the
# natural-key merge, field by field (the expected rows are computed by
# PostgreSQL from the JSON, not by f1tel's decoder); the 105 car_data records
# of 9606 without a date are dead letters; every offset is stored; and a
# second replay of the same sessions changes no row.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 64);
my $node = new_node('replay', broker => $broker);

is(run_feed($broker, sessions => [ '9189', '9606' ]), 0, 'f1tel-feed delivered both sessions');

load_expected($node, [ '9189', '9606' ]);
my $expected = expected_counts($node);
note join(', ', map { "$_ $expected->{$_}" } sort keys %$expected);
is($expected->{laps}, 949 + 1179, 'the files hold 2128 laps');
is($expected->{car_data}, 488120 + 109017 - 105, 'car_data: every record with a date');

ok(wait_for_counts($node, $expected, 240), 'every table reached its expected row count');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files field by field (missing/extra rows)");
}

# the 9606 car_data records without a date: dead letters, with their payload
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE reason = 'car_data: missing key field "date"'
	                          AND topic = 'f1_car_data'
	                          AND convert_from(payload, 'UTF8')::jsonb ->> 'date' IS NULL)
	       || '/' || count(*)
	FROM f1tel.dead_letters}), '105/105', '105 dead letters, each the null-date car_data record');

# exactly once: every message consumed, each record applied once
$node->poll_query_until('postgres',
	'SELECT sum(lag) = 0 AND count(*) FILTER (WHERE high_watermark IS NULL) = 0 FROM f1tel.ingest_status')
  or die 'offsets did not reach the high watermarks';
is(ingest_totals($node), BOTH_SESSIONS_TOTALS,
	'ingest_status: each record counted once per topic');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM f1tel.ingest_status WHERE stored_offset <> high_watermark OR last_error IS NOT NULL'),
	'0', 'every partition stored up to its high watermark, no errors');

# a second replay of the same sessions changes nothing
# per staging table, all eighteen: rows and the latest ingested_at (a
# rewritten row would move it)
my $snapshot =
    "SELECT string_agg(t || ':' || n || ':' || coalesce(m::text, ''), ' ' ORDER BY t) FROM ("
  . join(' UNION ALL ',
	map { "SELECT '$_' t, count(*) n, max(ingested_at) m FROM f1tel.$_" } staging_tables())
  . ') s';
my $before = $node->safe_psql('postgres', $snapshot);
is(run_feed($broker, sessions => [ '9189', '9606' ]), 0, 'second replay delivered');
$node->poll_query_until('postgres', q{
	SELECT sum(stored_offset) = 2 * (2128 + 944 + 40 + 134 + 2 + 2 + 597137 + 185616
	                                 + 54 + 94 + 268 + 557 + 40 + 40)
	FROM f1tel.ingest_status}) or die 'the second replay was not consumed';
my $after = $node->safe_psql('postgres', $snapshot);
is($after, $before, 'replaying the sessions again changed no row');

$node->stop;
stop_broker($broker);
done_testing();
