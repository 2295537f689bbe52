# test/t/141_dash_server.pl — f1tel-dash as a server: many browsers on one
# database connection, and requests it must refuse without falling over.
#
# 100 concurrent event streams (test/dash/sse_clients.py) all get their
# parts, and all get a race control row committed while they are open, while
# pg_stat_activity shows one f1tel-dash connection; /api/state of a session
# without data has empty parts; unknown paths, other methods, unknown or
# repeated parameters, bad session keys, a garbage request line, a 100 kB URL
# and a 10 MB header get 4xx (or a closed connection) and the server keeps
# answering; a role that is not a member of f1tel_reader gets a 503 that says
# so; SIGTERM ends it with status 0.  The race control row is HAND-WRITTEN
# (a marker message) into the replayed 9189.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use DashLocal;
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
my $node = new_node('dashsrv', broker => $broker);
is(run_feed($broker, sessions => ['9189'],
	endpoints => [qw(sessions meetings drivers laps position race_control)]), 0, 'feed replayed 9189');
$node->poll_query_until('postgres',
	'SELECT (SELECT count(*) FROM f1tel.driver_laps) = 949 AND (SELECT count(*) FROM f1tel.race_control) = 73')
  or die 'the replay did not land';

my $dash = start_dash($node);

# ---- the state of a session, and of one without data ----
my ($st, $body) = dash_get($dash, '/api/state?session=9189');
is($st, 200, '/api/state?session=9189 answers 200');
my $state = decode_json($body);
is(scalar @{ $state->{tower} }, 20, 'its tower has 20 rows');
is(scalar @{ $state->{race_control} }, 73, 'its race control has the 73 messages');
is($state->{race_control}[0]{date} ge $state->{race_control}[-1]{date}, 1, 'newest first');
($st, $body) = dash_get($dash, '/api/state');
is($st, 200, '/api/state without a session answers (latest)');
is(decode_json($body)->{session}{session_key}, 9189, 'latest is 9189');
($st, $body) = dash_get($dash, '/api/state?session=424242');
is($st, 200, 'a session without data is no error');
$state = decode_json($body);
is_deeply([ $state->{tower}, $state->{race_control}, $state->{track}{cars}, $state->{weather} ],
	[ [], [], [], undef ], 'its parts are empty');
($st, $body) = dash_get($dash, '/api/sessions');
is($st, 200, '/api/sessions answers');
is_deeply([ map { $_->{session_key} } @{ decode_json($body)->{sessions} } ], [9189], 'it lists 9189');

# ---- 100 event streams, one database connection ----
my $marker = 'TEST CASE (hand-written): ONE HUNDRED STREAMS ' . $$;
my ($out, $err) = ('', '');
my $h = IPC::Run::start([ '/usr/bin/python3', repo_root() . '/test/dash/sse_clients.py',
	$dash->{url} . 'api/events?session=9189', 100, $marker, '--timeout', 30 ], '>', \$out, '2>', \$err);
my $deadline = time() + 60;
while ($out !~ /^ready (\d+)/m && time() < $deadline)
{
	$h->pump_nb;
	select(undef, undef, undef, 0.05);
}
like($out, qr/^ready 100$/m, '100 streams got their initial race control part');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'f1tel-dash'}),
	'1', 'while 100 streams are open, f1tel-dash holds one database connection');
$node->safe_psql('postgres', qq{
	INSERT INTO f1tel.race_control (session_key, date, category, message, src_topic, src_partition, src_offset)
	VALUES (9189, '2023-11-19T07:45:00Z', 'Other', '$marker', 'test', 0, 0)});
$h->finish;
my ($result) = $out =~ /^(\{.*\})$/m;
my $r = decode_json($result // '{}');
is($r->{got_marker}, 100, "all 100 streams got the new row (slowest after $r->{max_ms} ms)")
  or diag "$out $err";
cmp_ok($r->{max_ms}, '<', 2000, 'within 2 s on every stream');
note "100 streams: $result";

# ---- what must be refused ----
my @bad = (
	[ 'GET', '/nope', 404 ],
	[ 'GET', '/api', 404 ],
	[ 'POST', '/', 405 ],
	[ 'DELETE', '/api/state', 405 ],
	[ 'PUT', '/api/events', 405 ],
	[ 'GET', '/api/state?x=1', 400 ],
	[ 'GET', '/api/state?session=abc', 400 ],
	[ 'GET', '/api/state?session=99999999999', 400 ],
	[ 'GET', '/api/state?session=0', 400 ],
	[ 'GET', '/api/state?session=-3', 400 ],
	[ 'GET', '/api/state?session=1%3B%20DROP%20TABLE%20f1tel.laps', 400 ],
	[ 'GET', '/api/state?session=9189&session=9189', 400 ],
	[ 'GET', '/api/events?session=9189&x=1', 400 ],
	[ 'GET', '/?session=abc', 400 ],
	[ 'GET', '/?debug=1', 400 ],
	[ 'GET', '/app.js?v=1', 400 ],
	[ 'GET', '/api/sessions?session=1', 400 ],
	[ 'GET', '/../../etc/passwd', 404 ]);
foreach my $b (@bad)
{
	my ($method, $path, $want) = @$b;
	my ($s, $c) = dash_get($dash, $path, method => $method, $method eq 'POST' ? (content => 'x=1') : ());
	is($s, $want, "$method $path: $want");
	ok(eval { decode_json($c)->{error} }, "$method $path: a JSON error");
}

sub raw
{
	my ($bytes) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $dash->{port}, Timeout => 10)
	  or return 'no connection';
	local $SIG{PIPE} = 'IGNORE';
	my $off = 0;
	my $wsel = IO::Select->new($s);
	while ($off < length($bytes) && $wsel->can_write(5))
	{
		my $w = syswrite($s, $bytes, 65536, $off);
		last unless defined $w && $w > 0;
		$off += $w;
	}
	my ($answer, $all) = ('', '');
	# all of it (to the server's close), 200 bytes of it when refused
	my $sel = IO::Select->new($s);
	while ($sel->can_read(10) && defined $s->recv($answer, 65536) && length($answer) > 0
		&& length($all) < (1 << 20))
	{
		$all .= $answer;
	}
	close $s;
	return $all;
}
my $a = raw("GARBAGE\x00\xff\r\n\r\n");
unlike($a, qr/^HTTP\/1\.\d 2/, 'a garbage request line: no 2xx (' . ($a =~ /^(\S+ \d+)/ ? $1 : 'closed') . ')');
$a = raw('GET /' . ('a' x 100_000) . " HTTP/1.1\r\nHost: x\r\n\r\n");
like($a, qr/^HTTP\/1\.1 414/, 'a 100 kB URL: 414');
my $t0 = time();
$a = raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " . ('b' x (10 << 20)) . "\r\n\r\n");
cmp_ok(time() - $t0, '<', 4, 'a 10 MB header: the refusal closes the connection (no half-closed wait)');
like($a, qr/^(|HTTP\/1\.1 4\d\d.*)$/s, 'a 10 MB header: 4xx or closed (' . ($a =~ /^(\S+ \d+)/ ? $1 : 'closed') . ')');
$a = raw("GET /api/state?session=9189 HTTP/1.0\r\n\r\n");
like($a, qr/^HTTP\/1\.\d 200/, 'HTTP/1.0 without Host still answers');
my $head = HTTP::Tiny->new->request('HEAD', $dash->{url});
is($head->{status}, 200, 'HEAD / answers 200');
$a = raw("HEAD / HTTP/1.0\r\n\r\n");
like($a, qr/^HTTP\/1\.\d 200 .*\r\n\r\n\z/s, '... without a body (HTTP/1.0: headers, then the close)');
like($head->{headers}{'content-security-policy'} // '', qr/script-src 'self'/, 'a Content-Security-Policy with no inline script');
($st) = dash_get($dash, '/');
is($st, 200, 'after all that, GET / still answers');
($st, $body) = dash_get($dash, '/api/state?session=9189');
is($st, 200, '... and /api/state too');

# ---- a role that may not read ----
$node->safe_psql('postgres', 'CREATE ROLE dash_nobody LOGIN');
my $conninfo = dash_conninfo($node);
$conninfo =~ s/user=\S+/user=dash_nobody/;
my ($o2, $e2) = ('', '');
my $h2 = IPC::Run::start([ 'f1tel-dash', '--listen', '127.0.0.1:0', '--db', $conninfo ], '>', \$o2, '2>', \$e2);
$deadline = time() + 20;
while ($e2 !~ m{listening on (http://\S+)} && time() < $deadline) { $h2->pump_nb; select(undef, undef, undef, 0.05); }
my $other = { url => ($e2 =~ m{listening on (http://\S+)})[0] };
$deadline = time() + 20;
do { ($st, $body) = dash_get($other, '/api/state?session=9189'); select(undef, undef, undef, 0.2) }
  until ($st == 503 && $body =~ /f1tel_reader/) || time() > $deadline;
is($st, 503, 'a role outside f1tel_reader: 503');
like($body, qr/GRANT f1tel_reader TO/, '... saying how to fix it');
$h2->signal('TERM');
$h2->finish;
unlike($e2, qr/password/i, 'its log has nothing of a password');

is(stop_dash($dash), 0, 'SIGTERM ends f1tel-dash with status 0, even with streams open before');
# the broker too: one left running costs the tests after this one CPU
stop_broker($broker);

done_testing();
