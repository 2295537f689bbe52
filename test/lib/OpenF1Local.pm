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

use F1telTest qw(repo_root data_dir);

our @EXPORT = qw(start_openf1 stop_openf1 openf1_get openf1_post
  start_mosquitto stop_mosquitto openf1_feed_command kafka_payloads);

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

1;
