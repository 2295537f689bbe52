# test/lib/OpenF1Local.pm — the TAP tests' handles on the local OpenF1
# (test/openf1/openf1_server.py) and its Mosquitto (test/openf1/mosquitto.sh),
# and f1tel-feed's OpenF1 command lines.
#
# Rules a reader must know: the server and Mosquitto run as the test's user
# in tmp_check; every server is stopped by stop_openf1 (TERM, then wait);
# kafka_payloads reads a topic back with kcat, to count what f1tel-feed
# published (duplicates included), independent of f1tel.
package OpenF1Local;

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use IPC::Run;
use JSON::PP qw(decode_json encode_json);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use F1telTest qw(repo_root data_dir load_expected expected_counts wait_for_counts
  compare_with_files);

our @EXPORT = qw(start_openf1 stop_openf1 openf1_get openf1_post
  start_mosquitto stop_mosquitto openf1_feed_command kafka_payloads
  live_endpoints check_live_result);

my $n = 0;

sub start_openf1
{
	my (%opt) = @_;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/openf1_" . $$ . '_' . $n++;
	mkdir $dir;
	my @cmd = ('/usr/bin/python3', repo_root() . '/test/openf1/openf1_server.py',
		(map { ('--data', data_dir() . "/$_") } @{ $opt{sessions} }),
		'--port-file', "$dir/port", '--log', "$dir/server.log", @{ $opt{args} // [] });
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	my $deadline = time() + 60;
	while ($out !~ /ready on (\S+)/ && time() < $deadline)
	{
		$h->pump_nb;
		usleep(100_000);
	}
	BAIL_OUT("the local OpenF1 did not start: $err (see $dir/server.log)")
	  unless $out =~ /ready on (\S+)/;
	my $url = $1;
	note "local OpenF1 at $url";
	return { h => $h, url => $url, rest => "$url/v1", dir => $dir, err => \$err };
}

sub stop_openf1
{
	my ($s) = @_;
	$s->{h}->signal('TERM');
	$s->{h}->finish;
	note "openf1 server stderr: ${ $s->{err} }" if ${ $s->{err} };
}

sub openf1_get
{
	my ($s, $path) = @_;
	my $res = HTTP::Tiny->new(timeout => 30)->get("$s->{url}$path");
	return ($res->{status}, eval { decode_json($res->{content}) });
}

sub openf1_post
{
	my ($s, $path, $body) = @_;
	my $res = HTTP::Tiny->new(timeout => 30)->request('POST', "$s->{url}$path",
		{ headers => { 'Content-Type' => 'application/json' }, content => encode_json($body) });
	return ($res->{status}, eval { decode_json($res->{content}) });
}

sub start_mosquitto
{
	my ($dir, $port) = @_;
	mkdir $dir;
	system(repo_root() . '/test/openf1/mosquitto.sh', 'start', $dir, $port) == 0
	  or BAIL_OUT("mosquitto did not start: see $dir/mosquitto.log");
}

sub stop_mosquitto
{
	my ($dir) = @_;
	system(repo_root() . '/test/openf1/mosquitto.sh', 'stop', $dir);
}

sub openf1_feed_command
{
	my ($broker, $server, @args) = @_;
	return ('f1tel-feed', '--brokers', $broker->{brokers}, '--openf1', $server->{rest}, @args);
}

# Every payload of a topic, in order (kcat reads to the end and exits).
sub kafka_payloads
{
	my ($broker, $topic) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'kcat', '-C', '-b', $broker->{brokers}, '-t', $topic, '-o', 'beginning',
		'-e', '-q', '-f', '%k %s\n' ], '>', \$out, '2>', \$err);
	note "kcat: $err" if $err;
	return split /\n/, $out;
}

# The endpoints the live tests follow: all but car_data and location (OpenF1
# serves those live only with an F1TV login; the stand-in's Python publisher
# cannot keep up with them at 60x).
sub live_endpoints
{
	return qw(laps position drivers race_control sessions meetings pit stints weather
	  session_result starting_grid overtakes);
}

# After a live follow of 9606: every followed table equals the files,
# driver_laps has a row per lap and equals its view, the laps reached Kafka
# in several versions and no version twice.
sub check_live_result
{
	my ($node, $broker) = @_;
	my @endpoints = live_endpoints();
	load_expected($node, ['9606'], \@endpoints);
	my $expected = expected_counts($node, \@endpoints);
	ok(wait_for_counts($node, $expected, 120), 'every table reached its expected row count');
	foreach my $t (@endpoints)
	{
		my ($missing, $extra) = compare_with_files($node, $t);
		is("$missing/$extra", '0/0', "$t equals the files field by field (missing/extra rows)");
	}
	$node->poll_query_until('postgres', 'SELECT sum(lag) = 0 FROM f1tel.ingest_status')
	  or diag 'not everything consumed';
	is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps WHERE session_key = 9606'),
		'1179', 'driver_laps: one row per lap');
	my $cols = join(', ', map { "d.$_" } grep { $_ !~ /^(updated_at|version)$/ } split /,/,
		$node->safe_psql('postgres', q{SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
			FROM information_schema.columns WHERE table_schema = 'f1tel' AND table_name = 'driver_laps_v'}));
	is($node->safe_psql('postgres', "SELECT count(*) FROM (
		(SELECT $cols FROM f1tel.driver_laps d EXCEPT ALL SELECT $cols FROM f1tel.driver_laps_v d)
		UNION ALL
		(SELECT $cols FROM f1tel.driver_laps_v d EXCEPT ALL SELECT $cols FROM f1tel.driver_laps d)) x"),
		'0', 'driver_laps equals its defining view');
	my @laps = kafka_payloads($broker, 'f1_laps');
	my %seen;
	cmp_ok(scalar(@laps), '>', 1179 * 1.5, scalar(@laps) . ' lap messages for 1179 laps: versions');
	is(scalar(grep { $seen{$_}++ } @laps), 0, 'no lap version reached Kafka twice');
	return;
}

1;
