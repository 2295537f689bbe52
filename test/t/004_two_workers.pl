# test/t/004_two_workers.pl — two ingest workers sharing the partitions give
# the same result as one.
#
# Two PostgreSQL nodes consume the same broker in two consumer groups: one
# with f1tel.ingest_workers = 1, one with 2.  Both must end with exactly the
# rows of the files, and with identical tables.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 64);
my $one = new_node('one', broker => $broker, group => 'g-one', workers => 1);
my $two = new_node('two', broker => $broker, group => 'g-two', workers => 2);

$two->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
  or die 'two ingest workers did not start';

is(run_feed($broker, sessions => [ '9189', '9606' ]), 0, 'f1tel-feed delivered both sessions');

foreach my $node ($one, $two)
{
	load_expected($node, [ '9189', '9606' ]);
	ok(wait_for_counts($node, expected_counts($node), 240), $node->name . ': every table complete');
	foreach my $t (staging_tables())
	{
		my ($missing, $extra) = compare_with_files($node, $t);
		is("$missing/$extra", '0/0', $node->name . ": $t equals the files");
	}
}

# the same rows in both, table by table (the data, not the provenance)
foreach my $t (staging_tables())
{
	my $cols = join(', ', data_columns($one, $t));
	my $sql = "SELECT md5(string_agg(md5(row($cols)::text), '' ORDER BY md5(row($cols)::text))) FROM f1tel.$t";
	is($two->safe_psql('postgres', $sql), $one->safe_psql('postgres', $sql), "$t: two workers = one worker");
}
is($two->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'),
	$one->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), 'same dead letters');

# both workers of the second node really took part
my $log = slurp_file($two->logfile);
my %pids = map { $_ => 1 } ($log =~ /\[(\d+)\][^\n]*?LOG:  f1tel ingest: assigned [1-9]\d* partition/g);
is(scalar(keys %pids), 2, 'both ingest workers were assigned partitions');
# the rebalances ran no PostgreSQL code inside librdkafka's poll (the
# tripwire in src/ingest/consumer.c logs a BUG line if one did)
unlike($log, qr/BUG: .* inside a librdkafka poll/, 'no database call inside a librdkafka callback');

$one->stop;
$two->stop;
stop_broker($broker);
done_testing();
