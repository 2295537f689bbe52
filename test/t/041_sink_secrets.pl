# test/t/041_sink_secrets.pl — the sink sends credentials over https only, or
# plain http to a loopback host (127.0.0.0/8 as a dotted quad, [::1],
# localhost): a key file whose token_uri, or an f1tel.bigquery_endpoint,
# is http:// to any other host gets no JWT and no token, with a clear error
# in f1tel.sink_status.
#
# The "other host" is written 127.1, which f1tel's strict parser does not
# take for a loopback host while libcurl reads it as 127.0.0.1: so without
# the check the credentials would go to the local server, which counts them
# (/_stats), and no traffic leaves the machine either way.  Then the same
# key and endpoint written 127.0.0.1: the exchange works.
# Last, a SASL password put into f1tel.kafka_config in postgresql.conf is
# refused at reload, naming f1tel.kafka_config_file, and the value is not in
# the server log (PostgreSQL logs an accepted new value there).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir();
system('openssl', 'genrsa', '-out', "$dir/key.pem", '2048') == 0 or die 'openssl genrsa failed';
system("openssl rsa -in $dir/key.pem -pubout -out $dir/key.pub 2>/dev/null") == 0 or die 'openssl rsa failed';

my $broker = start_broker(partitions => 1);
my $bq = start_bigquery(args => [ '--require-auth', 'jwt', '--public-key', "$dir/key.pub" ]);
my $port = $bq->{port};

sub write_key
{
	my ($token_uri) = @_;
	open(my $fh, '>', "$dir/sa.json") or die;
	print $fh encode_json({
		type => 'service_account', project_id => 'f1tel-test', private_key_id => 'k1',
		private_key => slurp_file("$dir/key.pem"),
		client_email => 'f1tel@f1tel-test.iam.gserviceaccount.com', token_uri => $token_uri });
	close $fh;
	chmod 0600, "$dir/sa.json";
}

sub last_error
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT coalesce(last_error, '') FROM f1tel.sink_status WHERE sink = 'bigquery'});
}

# a hand-written race_control record: a change for the sink to push
my $offset = 0;
sub queue_change
{
	my ($node) = @_;
	$offset++;
	$node->safe_psql('postgres', qq{
		INSERT INTO f1tel.race_control (session_key, meeting_key, date, driver_number, lap_number, sector,
			category, flag, scope, message, src_topic, src_partition, src_offset)
		VALUES (4041, 1225, '2023-11-19 05:57:18+00'::timestamptz + interval '$offset s', NULL, 1, NULL,
			'Flag', 'GREEN', 'Track', 'GREEN LIGHT - PIT EXIT OPEN', 'hand-written', 0, $offset)});
}

sub wait_error
{
	my ($node, $like, $label) = @_;
	ok($node->poll_query_until('postgres', qq{
		SELECT coalesce(last_error, '') LIKE '$like' FROM f1tel.sink_status WHERE sink = 'bigquery'}),
		$label) or diag 'last_error: ' . last_error($node);
}

sub stats
{
	my (undef, $stats) = bq_call($bq, 'GET', '/_stats');
	note 'server stats: ' . encode_json($stats);
	return $stats;
}

# --- 1. token_uri is plain http to a host that is not loopback
write_key("http://127.1:$port/token");
my $node = new_node('sinksecrets', broker => $broker,
	conf => sink_conf($bq, credentials => "$dir/sa.json", timeout_ms => 3000));
queue_change($node);
wait_error($node, '%"token_uri" is not an https:// URL%',
	'a key file whose token_uri is http:// to a non-loopback host is refused');
is(stats()->{tokens_issued}, 0, 'no JWT was exchanged');

# --- 2. the endpoint is plain http to a host that is not loopback
write_key("http://127.0.0.1:$port/token");
$node->append_conf('postgresql.conf', "f1tel.bigquery_endpoint = 'http://127.1:$port'\n");
$node->reload;
queue_change($node);
wait_error($node, '%refusing to send an access token to f1tel.bigquery_endpoint%',
	'no token for an http:// endpoint that is not loopback');
like(last_error($node), qr/plain http only to a loopback host/, 'the error says what is allowed');
my $stats = stats();
is($stats->{tokens_issued}, 0, 'no token was fetched');
is(scalar(keys %{ $stats->{requests} }), 0, 'no API request was made');

# --- 3. loopback http, as written by the tests: the exchange works
$node->append_conf('postgresql.conf', "f1tel.bigquery_endpoint = '$bq->{url}'\n");
$node->reload;
queue_change($node);
ok(wait_for_sinks($node, 120), 'with a loopback endpoint and token_uri every change is pushed')
  or diag 'last_error: ' . last_error($node);
ok($node->poll_query_until('postgres', q{
	SELECT coalesce(last_error, '') = '' AND rows_pushed > 0 FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	'and no error stands')
  or diag 'last_error: ' . last_error($node);
cmp_ok(stats()->{tokens_issued}, '>', 0, 'a token was issued');

# --- 4. a secret in f1tel.kafka_config is refused at reload, and not logged
my $log_at = -s $node->logfile;
$node->append_conf('postgresql.conf',
	"f1tel.kafka_config = 'security.protocol=SASL_SSL, sasl.username=u, sasl.password=Sx7-reload-pw'\n");
$node->reload;
ok($node->wait_for_log(qr/property "sasl\.password" holds a secret: set it in the file named by f1tel\.kafka_config_file/,
	$log_at), 'a sasl.password in f1tel.kafka_config is refused at reload, naming the file setting');
$node->append_conf('postgresql.conf', "f1tel.kafka_config = 'sasl.username=u,Sx7-tail-of-a-value'\n");
$node->reload;
ok($node->wait_for_log(qr/entry 2 \(after property "sasl\.username"\): expected name=value/, $log_at),
	'an unescaped comma is reported by entry, not by the text after it');
unlike(slurp_file($node->logfile), qr/Sx7/, 'neither value is in the server log');
like($node->safe_psql('postgres', 'SHOW f1tel.kafka_config'), qr/^session\.timeout\.ms=6000/,
	'the old value stays in force');

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
