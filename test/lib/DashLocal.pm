# test/lib/DashLocal.pm — what the dashboard's TAP tests share: starting
# f1tel-dash against a test node, plain HTTP requests to it, and the headless
# Chromium of test/dash/browser.mjs.
#
#   my $dash = start_dash($node);            # {url, port, h, log}
#   my ($status, $body) = dash_get($dash, '/api/state?session=9189');
#   my $b = start_browser();  browser($b, 'open', url => ...);  stop_browser($b);
#   produce_race_control($broker, $record_hashref);
#
# Rules: f1tel-dash runs from the PATH (make install puts it there), on a
# free loopback port (--listen 127.0.0.1:0; the port is read from its
# "listening on" line); browser() sends one command and waits for its one
# answer (test/dash/browser.mjs's protocol) and dies if the driver does.
package DashLocal;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use JSON::PP;
use HTTP::Tiny;
use Time::HiRes qw(time usleep);
use PostgreSQL::Test::Utils;
use Test::More;
use F1telTest;

our @EXPORT = qw(start_dash stop_dash dash_get start_browser browser stop_browser
  produce_race_control dash_conninfo);

my $n = 0;

sub dash_conninfo
{
	my ($node) = @_;
	return sprintf('host=%s port=%d user=%s dbname=postgres',
		$node->host, $node->port, scalar getpwuid($<));
}

sub start_dash
{
	my ($node, @args) = @_;
	my $log = "$PostgreSQL::Test::Utils::tmp_check/dash_" . $$ . '_' . $n++ . '.log';
	my ($out, $err) = ('', '');
	# PostgreSQL::Test::Utils sets PGAPPNAME, which would override the
	# fallback_application_name "f1tel-dash" that the tests look for
	local $ENV{PGAPPNAME};
	delete $ENV{PGAPPNAME};
	my $h = IPC::Run::start([ 'f1tel-dash', '--listen', '127.0.0.1:0', '--db', dash_conninfo($node), @args ],
		'>', \$out, '2>', \$err);
	my $deadline = time() + 30;
	while ($err !~ m{listening on (http://\S+)} && time() < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	BAIL_OUT("f1tel-dash did not start: $err") unless $err =~ m{listening on (http://127\.0\.0\.1:(\d+)/)};
	note "f1tel-dash at $1";
	return { h => $h, url => $1, port => $2, err => \$err };
}

sub stop_dash
{
	my ($dash) = @_;
	$dash->{h}->signal('TERM');
	$dash->{h}->finish;
	my $status = $? >> 8;
	note 'f1tel-dash stderr: ' . ${ $dash->{err} };
	return $status;
}

sub dash_get
{
	my ($dash, $path, %opt) = @_;
	my $r = HTTP::Tiny->new(timeout => $opt{timeout} // 20)
	  ->request($opt{method} // 'GET', $dash->{url} . substr($path, 1),
		$opt{content} ? { content => $opt{content} } : {});
	return ($r->{status}, $r->{content});
}

sub start_browser
{
	my $dir = repo_root() . '/test/dash';
	system("$dir/setup.sh") == 0 or BAIL_OUT('test/dash/setup.sh failed');
	my ($in, $out, $err) = ('', '', '');
	my $h = IPC::Run::start([ 'node', "$dir/browser.mjs" ], '<', \$in, '>', \$out, '2>', \$err);
	return { h => $h, in => \$in, out => \$out, err => \$err };
}

# browser($b, CMD, key => value...): the answer's hash; dies on a failure
sub browser
{
	my ($b, $cmd, %args) = @_;
	my $wait = delete $args{answer_within} // 120;
	${ $b->{in} } .= encode_json({ cmd => $cmd, %args }) . "\n";
	my $deadline = time() + $wait;
	while (${ $b->{out} } !~ /\n/ && time() < $deadline)
	{
		$b->{h}->pump_nb;
		usleep(10_000);
	}
	die "browser.mjs gave no answer to $cmd: ${ $b->{err} }" unless ${ $b->{out} } =~ s/^([^\n]*)\n//;
	my $a = decode_json($1);
	die "browser.mjs: $cmd failed: $a->{error}" unless $a->{ok};
	return $a;
}

# Never hangs: browser.mjs closes chromium within 10 s and exits when its
# stdin closes; if it is still running 20 s later it is killed.
sub stop_browser
{
	my ($b) = @_;
	my $a = eval { browser($b, 'close', answer_within => 20) };
	note 'browser.mjs: chromium did not close within 10 s' if $a && !$a->{closed};
	${ $b->{in} } = '';
	# finish closes its stdin and waits; bounded by an alarm
	my $ok = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 20;
		$b->{h}->finish;
		alarm 0;
		1;
	};
	alarm 0;
	if (!$ok)
	{
		note 'browser.mjs did not exit: killed';
		eval { $b->{h}->kill_kill(grace => 5) };
	}
	note 'browser.mjs stderr: ' . ${ $b->{err} } if ${ $b->{err} };
}

# One race_control record produced to its topic, the key as f1tel-feed keys
# it (the session), through test/lib/produce.py.
sub produce_race_control
{
	my ($broker, $rec) = @_;
	my $topic = default_topic_of()->{race_control};
	my $line = join("\t", $topic, $rec->{session_key}, unpack('H*', encode_json($rec))) . "\n";
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/produce.py', $broker->{brokers} ],
		'<', \$line, '>', \$out, '2>', \$err)
	  or die "produce.py: $err";
}

1;
