# test/t/041_sink_faults.pl — the sink under bad credentials, expiring tokens,
# injected HTTP faults, kill -9 and an immediate restart.
#
# The local BigQuery server requires a JWT-bearer token signed with a key
# generated here.  First the sink has the wrong key: a clear error, nothing
# lost.  Then the right key, tokens that expire every few seconds, and faults
# injected into insertAll (500, 503, 429, an HTML 413, a timeout, connection
# resets), a kill -9 of the sink and an immediate restart of PostgreSQL while
# requests hang.  End state: BigQuery's latest version of each lap equals
# f1tel.driver_laps, no row version is stored twice, nothing is left queued.
# Throughout, no secret shows where a user or an operator can look (the
# server log, pg_stat_activity, pg_settings, f1tel.sink_status): not the key,
# not a JWT (its signature alone neither), not an access token, and not the
# SASL password set through f1tel.kafka_config_file (the embedded broker
# speaks PLAINTEXT, so librdkafka only holds it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir();
foreach my $k ('good', 'wrong')
{
	system('openssl', 'genrsa', '-out', "$dir/$k.pem", '2048') == 0 or die 'openssl genrsa failed';
}
system("openssl rsa -in $dir/good.pem -pubout -out $dir/good.pub 2>/dev/null") == 0 or die 'openssl rsa failed';

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery(args => [ '--require-auth', 'jwt', '--public-key', "$dir/good.pub",
	'--token-lifetime', '4' ]);

sub write_key
{
	my ($which) = @_;
	my $pem = slurp_file("$dir/$which.pem");
	open(my $fh, '>', "$dir/sa.json") or die;
	print $fh encode_json({
		type => 'service_account', project_id => 'f1tel-test', private_key_id => "k-$which",
		private_key => $pem, client_email => 'f1tel@f1tel-test.iam.gserviceaccount.com',
		token_uri => "$bq->{url}/token" });
	close $fh;
	chmod 0600, "$dir/sa.json";
}
write_key('wrong');

my $sasl_password = 'Sx7-sasl-' . join('', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 16);
open(my $kfh, '>', "$dir/kafka.properties") or die;
print $kfh "# secrets of the Kafka clients\nsasl.username=f1tel\nsasl.password=$sasl_password\n";
close $kfh;
chmod 0600, "$dir/kafka.properties";

my $node = new_node('sinkfaults', broker => $broker,
	conf => sink_conf($bq, credentials => "$dir/sa.json", timeout_ms => 3000)
	  . "f1tel.kafka_config_file = '$dir/kafka.properties'\n");

# What a secret looks like: key material, a JWT (header.claims, or the RS256
# signature of a 2048-bit key alone: 342 base64url characters), an access
# token of the local server (ya29.local-...), the SASL password.
my $secret_re = qr/PRIVATE KEY|MII[A-Za-z0-9+\/]{40}|eyJ[A-Za-z0-9_-]{10,}\.eyJ|[A-Za-z0-9_-]{300,}|ya29\.|\Q$sasl_password\E/;
# the pattern is no blind one: it finds each kind of secret
like("x eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.sig y", $secret_re, 'the leak pattern finds a JWT');
like('Authorization: Bearer ya29.local-abc', $secret_re, 'the leak pattern finds a token');
like('sig ' . ('Ab_-' x 86), $secret_re, 'the leak pattern finds a bare signature');
like("pw=$sasl_password", $secret_re, 'the leak pattern finds the SASL password');

sub no_secrets
{
	my ($label) = @_;
	my $log = slurp_file($node->logfile);
	my ($where) = $log =~ /(.{0,80}$secret_re.{0,20})/;
	ok(!defined $where, "$label: no secret in the server log") or diag "found: $where";
	foreach my $view (
		[ 'pg_stat_activity', q{SELECT string_agg(a::text, E'\n') FROM pg_stat_activity a} ],
		[ 'pg_settings', q{SELECT string_agg(s::text, E'\n') FROM pg_settings s} ],
		[ 'f1tel.sink_status', q{SELECT string_agg(s::text, E'\n') FROM f1tel.sink_status s} ])
	{
		my $text = $node->safe_psql('postgres', $view->[1]);
		($where) = $text =~ /(.{0,80}$secret_re.{0,20})/;
		ok(!defined $where, "$label: no secret in $view->[0]") or diag "found: $where";
	}
}
my @endpoints = qw(sessions meetings drivers laps position race_control);

# Wait until a replay of 9189 (under a session key offset) is fully ingested:
# only then can "nothing queued for the sinks" mean "everything pushed".
sub wait_ingested
{
	my ($offset) = @_;
	my $sk = 9189 + $offset;
	$node->poll_query_until('postgres', qq{
		SELECT (SELECT count(*) FROM f1tel.laps WHERE session_key = $sk) = 949
		   AND (SELECT count(*) FROM f1tel.position WHERE session_key = $sk) = 548
		   AND (SELECT count(*) FROM f1tel.drivers WHERE session_key = $sk) = 20
		   AND (SELECT count(*) FROM f1tel.race_control WHERE session_key = $sk) = 73})
	  or die "replay $offset was not ingested";
}

sub bq_matches
{
	my ($label) = @_;
	my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
	$node->safe_psql('postgres', 'DROP TABLE IF EXISTS bq_rows; CREATE TABLE bq_rows (r jsonb)');
	$node->safe_psql('postgres', "INSERT INTO bq_rows SELECT value FROM jsonb_array_elements('"
		  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
	is($node->safe_psql('postgres', q{
		SELECT count(*) - count(DISTINCT (r->>'session_key', r->>'driver_number', r->>'lap_number', r->>'version'))
		FROM bq_rows}), '0', "$label: no row version stored twice");
	is($node->safe_psql('postgres', q{
		WITH latest AS (
			SELECT DISTINCT ON (1, 2, 3) (r->>'session_key')::int s, (r->>'driver_number')::int d,
				   (r->>'lap_number')::int l, (r->>'version')::bigint v, (r->>'position')::int p
			FROM bq_rows ORDER BY 1, 2, 3, 4 DESC)
		SELECT count(*) FROM (
			(SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps
			 EXCEPT ALL SELECT s, d, l, v, p FROM latest)
			UNION ALL
			(SELECT s, d, l, v, p FROM latest EXCEPT ALL
			 SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps)) x}),
		'0', "$label: BigQuery's latest versions equal f1tel.driver_laps")
	  or diag $node->safe_psql('postgres', q{
		WITH latest AS (
			SELECT DISTINCT ON (1, 2, 3) (r->>'session_key')::int s, (r->>'driver_number')::int d,
				   (r->>'lap_number')::int l, (r->>'version')::bigint v, (r->>'position')::int p
			FROM bq_rows ORDER BY 1, 2, 3, 4 DESC)
		SELECT 'pg ' || x::text FROM (SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps
			 EXCEPT ALL SELECT s, d, l, v, p FROM latest) x
		UNION ALL
		SELECT 'bq ' || y::text FROM (SELECT s, d, l, v, p FROM latest EXCEPT ALL
			 SELECT session_key, driver_number, lap_number, version, position FROM f1tel.driver_laps) y
		LIMIT 20});
}

# --- 1. the wrong key: a clear error, nothing lost, no secret in the log
is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints), 0, 'feed replayed 9189');
wait_ingested(0);
$node->poll_query_until('postgres', q{
	SELECT last_error LIKE '%invalid_grant%' FROM f1tel.sink_status WHERE sink = 'bigquery'})
  or die 'no auth error reported';
pass('a wrong key is reported in sink_status: '
	  . $node->safe_psql('postgres', q{SELECT last_error FROM f1tel.sink_status WHERE sink = 'bigquery'}));
cmp_ok($node->safe_psql('postgres', q{SELECT pending FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}),
	'>=', 949 + 73, 'and every change is still queued');
no_secrets('with the wrong key');
like($node->safe_psql('postgres', q{SELECT setting FROM pg_settings WHERE name = 'f1tel.kafka_config_file'}),
	qr/kafka\.properties$/, 'the SASL password is set through the file');

# --- 2. the right key: everything arrives; tokens expire every 4 s and are refreshed
write_key('good');
ok(wait_for_sinks($node, 120), 'with the right key every change was pushed');
bq_matches('after the key was fixed');
sleep 5;    # the token has expired
is(run_feed($broker, sessions => ['9606'], endpoints => \@endpoints), 0, 'feed replayed 9606');
$node->poll_query_until('postgres', q{SELECT count(*) = 1179 FROM f1tel.laps WHERE session_key = 9606
	AND (SELECT count(*) FROM f1tel.position WHERE session_key = 9606) = 396}) or die '9606 not ingested';
ok(wait_for_sinks($node, 120), 'pushed with a refreshed token');
my (undef, $stats) = bq_call($bq, 'GET', '/_stats');
note 'server stats: ' . encode_json($stats);
unlike($node->safe_psql('postgres', q{SELECT coalesce(last_error, '') FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	qr/./, 'no error standing after the token refresh');
cmp_ok($stats->{tokens_issued}, '>=', 2, 'tokens were issued and refreshed');
no_secrets('after tokens were refreshed');

# --- 3. injected faults on insertAll
my @faults = (
	{ status => 500, count => 2 },
	{ status => 503, count => 2, reason => 'backendError' },
	{ status => 429, count => 2, reason => 'rateLimitExceeded' },
	{ status => 413, count => 1, body => 'html' },
	{ delay_ms => 5000, count => 1 },
	{ reset => JSON::PP::true, count => 2 },
);
foreach my $f (@faults)
{
	my ($st) = bq_call($bq, 'POST', '/_fault', { %$f, path_contains => 'insertAll' });
	is($st, 200, 'fault queued: ' . encode_json($f));
}
is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints, extra => [ '--session-key-offset', 100000 ]),
	0, 'feed replayed a clone of 9189');
wait_ingested(100000);
ok(wait_for_sinks($node, 180), 'every change pushed through the faults');
bq_matches('after injected faults');
cmp_ok($node->safe_psql('postgres', q{SELECT retries FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	'>', 0, 'the sink retried');

# --- 4. kill -9 of the sink while its requests hang
sub crash_mid_push
{
	my ($label, $offset, $crash) = @_;
	bq_call($bq, 'POST', '/_fault', { delay_ms => 2500, count => 6, path_contains => 'insertAll' });
	is(run_feed($broker, sessions => ['9189'], endpoints => \@endpoints,
		extra => [ '--session-key-offset', $offset ]), 0, "feed for $label");
	$node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'f1tel sink' AND query LIKE '%pushing%'})
	  or die 'the sink is not pushing';
	$crash->();
	$node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'no recovery';
	wait_ingested($offset);
	ok(wait_for_sinks($node, 180), "$label: every change pushed after the crash");
	bq_matches($label);
}
crash_mid_push('kill -9 of the sink', 200000, sub {
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'f1tel sink'});
	ok(kill('KILL', $pid), "kill -9 of the sink ($pid) mid-push");
});
crash_mid_push('immediate restart', 300000, sub {
	$node->stop('immediate');
	$node->start;
	pass('immediate restart of PostgreSQL mid-push');
});

is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.sink_dead_letters'), '0', 'no row refused');
no_secrets('at the end');
$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
