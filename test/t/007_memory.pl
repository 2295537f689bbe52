# test/t/007_memory.pl — an ingest worker's memory stays bounded under large messages.
#
# A backlog of large messages waits on the broker before the worker starts:
# the recorded car_data of 9189 (488,120 records), twice (the second copy
# with session_key + 1000000), cut into JSON arrays of 5,000 records, about
# 800 kB each (an API response as is: OpenF1 endpoints answer with arrays) —
# about 195 messages, 160 MB of JSON.  At the default settings (batch_size
# 10,000, batch_max_bytes, librdkafka's prefetch bounds set by f1tel) the
# worker's private memory (RssAnon in /proc/PID/status, sampled every 20 ms)
# must stay under the bound the README states (64 MB), and every record
# must arrive exactly once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use constant LIMIT_MB => 64;

my $broker = start_broker(partitions => 16);
my $file = data_dir() . '/9189/car_data.json.gz';
my ($out, $err) = ('', '');
IPC::Run::run([ '/usr/bin/python3', '-c', q{
import gzip, json, sys
from confluent_kafka import Producer
records = json.load(gzip.open(sys.argv[2]))
p = Producer({"bootstrap.servers": sys.argv[1], "compression.type": "lz4",
              "linger.ms": 20, "message.max.bytes": 2000000,
              "queue.buffering.max.kbytes": 1048576})
failed = []
def report(err, msg):
    if err is not None:
        failed.append(str(err))
n = rows = size = 0
for clone in (0, 1000000):
    for i in range(0, len(records), 5000):
        chunk = [dict(r, session_key=r["session_key"] + clone) for r in records[i:i + 5000]]
        value = json.dumps(chunk, separators=(",", ":")).encode()
        p.produce("f1_car_data", key=("m%d" % n).encode(), value=value, on_delivery=report)
        p.poll(0)
        n += 1
        rows += len(chunk)
        size = max(size, len(value))
left = p.flush(60)
if failed or left:
    sys.exit("delivery failed: %s (%d left)" % (failed[:3], left))
print(n, rows, size)
}, "$broker->{brokers}", $file ], '>', \$out, '2>', \$err);
is($?, 0, 'the large messages were produced') or diag $err;
my ($nmsgs, $nrows, $largest) = split ' ', $out;
note "$nmsgs messages, $nrows records, the largest $largest bytes";

my $node = new_node('mem', broker => $broker);
my $pid;
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'})
  or die 'no ingest worker';
$pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'f1tel ingest'});

# the worker's private memory, in kB: RssAnon, and VmRSS - RssShmem
sub memory_kb
{
	open(my $fh, '<', "/proc/$pid/status") or return;
	my %f = map { /^(\w+):\s+(\d+)/ ? ($1 => $2) : () } <$fh>;
	close $fh;
	return ($f{RssAnon}, $f{VmRSS} - $f{RssShmem});
}

my ($peak_anon, $peak_private) = (0, 0);
my $deadline = time() + 600;
my $next_poll = 0;
my $stored = 0;
while (time() < $deadline)
{
	my ($anon, $private) = memory_kb();
	last unless defined $anon;
	$peak_anon = $anon if $anon > $peak_anon;
	$peak_private = $private if $private > $peak_private;
	if (time() >= $next_poll)
	{
		$stored = $node->safe_psql('postgres',
			q{SELECT coalesce(sum(rows), 0) FROM f1tel.ingest_status WHERE topic = 'f1_car_data'});
		last if $stored >= $nrows;
		$next_poll = time() + 0.5;
	}
	usleep(20_000);
}
note sprintf('ingest worker peak: RssAnon %.1f MB, VmRSS - RssShmem %.1f MB',
	$peak_anon / 1024, $peak_private / 1024);
is($stored, $nrows, 'ingest_status counts every record once');
cmp_ok($peak_anon / 1024, '<=', LIMIT_MB,
	sprintf('the worker\'s private memory peak (RssAnon %.1f MB) stays under %d MB',
		$peak_anon / 1024, LIMIT_MB));

is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.car_data'), $nrows,
	'every record arrived exactly once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0', 'no dead letter');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT session_key, count(*) FROM f1tel.car_data GROUP BY 1) s
	WHERE count = } . ($nrows / 2)), '2', 'both copies complete');
is($node->safe_psql('postgres',
		q{SELECT sum(coalesce(stored_offset, 0)) FROM f1tel.ingest_status WHERE topic = 'f1_car_data'}),
	$nmsgs, 'the stored offsets cover every message');
my $batches = () = slurp_file($node->logfile) =~ /f1tel ingest: writing a batch/g;
is($batches, 0, 'no batch failed');

$node->stop;
stop_broker($broker);
done_testing();
