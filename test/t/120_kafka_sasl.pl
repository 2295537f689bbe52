# test/t/120_kafka_sasl.pl — f1tel against a secured Apache Kafka, configured
# as users do: kafka.sh start --security sasl_ssl (TLS with a test CA, SASL,
# an mTLS listener, the StandardAuthorizer with no access without an ACL) and
# f1tel.kafka_config_file, a 0600 file of the server's user holding
# security.protocol=SASL_SSL, sasl.mechanisms, sasl.username/password and
# ssl.ca.location.
#
# f1-feed publishes session 9189 as the super user.  f1tel's user starts
# with its topics' ACLs but f1_laps's, and none on its group (f1tel-sasl):
#   1. a wrong password: ingest_status.last_error of every topic and the
#      server log say the authentication failed (with a hint);
#   2. the right file and a reload: the group's authorization fails, said
#      the same way;
#   3. READ on the group granted: every topic but f1_laps is ingested, and
#      f1_laps's last_error says TOPIC_AUTHORIZATION_FAILED;
#   4. its ACL granted: f1_laps too; every table equals the files, each
#      record counted once, every partition at its high watermark;
#   5. SCRAM-SHA-512: librdkafka before 2.6.1 cannot pass it against Kafka 4
#      (librdkafka#4895), which the error says; a newer one ingests;
#   6. ssl.ca.location naming another CA: the TLS handshake fails, said so;
#   7. a client certificate on the mTLS listener: a replay is consumed.
# Neither password is ever in the server log, ingest_status, pg_settings or
# pg_stat_activity.  SASL PLAIN: see step 5 for why not SCRAM.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs Apache Kafka: the mock has no TLS or SASL'
  unless broker_kind() eq 'kafka';

my $broker = start_broker(partitions => 4, security => 'sasl_ssl');
my $sec = $broker->{security_dir};

sub props
{
	my ($file) = @_;
	my %p;
	foreach (split /\n/, slurp_file($file))
	{
		$p{$1} = $2 if /^([\w.]+)=(.*)$/;
	}
	return \%p;
}
my $admin = props("$sec/admin.properties");
my $f1tel = props("$sec/f1tel.properties");
my $password = $f1tel->{'sasl.password'};
my $wrong = 'Wx9-not-the-password';
my @as_admin = map { ('-X', "$_=$admin->{$_}") } sort keys %$admin;

# f1tel's file: owned by the server's user (this test runs as it), 0600
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $conf = "$tmp/f1tel-kafka.properties";
sub write_conf
{
	my ($p) = @_;
	open(my $fh, '>', $conf) or die "$conf: $!";
	print $fh "# written by 120_kafka_sasl.pl\n";
	print $fh "$_=$p->{$_}\n" foreach sort keys %$p;
	close $fh;
	chmod 0600, $conf;
}

# f1tel's user may not read f1_laps (kafka.sh granted it: take it back)
kafka_acl($broker, '--remove', '--force', '--allow-principal', 'User:f1tel',
	'--operation', 'Read', '--operation', 'Describe', '--topic', 'f1_laps');

write_conf({ %$f1tel, 'sasl.password' => $wrong });
# new_node's f1tel.kafka_config, and a topic granted later seen within 5 s
# (librdkafka looks again every topic.metadata.refresh.interval.ms, 5 min)
my $node = new_node('sasl', broker => $broker, group => 'f1tel-sasl',
	conf => "f1tel.kafka_config_file = '$conf'\n"
	  . "f1tel.kafka_config = 'session.timeout.ms=6000, heartbeat.interval.ms=1000,"
	  . " reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10, topic.metadata.refresh.interval.ms=5000'\n");
is(run_feed($broker, sessions => ['9189'], extra => \@as_admin), 0,
	'f1tel-feed delivered 9189 as the super user');
load_expected($node, ['9189']);

sub errors
{
	return $node->safe_psql('postgres', q{
		SELECT string_agg(topic || ' ' || partition || ': ' || coalesce(last_error, '-'), E'\n'
		                  ORDER BY topic, partition)
		FROM f1tel.ingest_status});
}

sub wait_errors
{
	my ($where, $label) = @_;
	ok($node->poll_query_until('postgres', "SELECT count(*) > 0 AND bool_and($where) FROM f1tel.ingest_status"),
		$label) or diag errors();
}

# no password anywhere an operator or another role can look
sub no_secret
{
	my ($label) = @_;
	my $seen = join("\n", slurp_file($node->logfile), map { $node->safe_psql('postgres', $_) } (
		q{SELECT string_agg(coalesce(last_error, ''), ' ') FROM f1tel.ingest_status},
		q{SELECT string_agg(name || '=' || coalesce(setting, '') || coalesce(reset_val, ''), ' ') FROM pg_settings},
		q{SELECT string_agg(coalesce(query, '') || coalesce(application_name, ''), ' ') FROM pg_stat_activity}));
	ok(index($seen, $password) < 0 && index($seen, $wrong) < 0,
		"$label: neither password in the server log, ingest_status, pg_settings or pg_stat_activity");
}

# --- 1. a wrong password
wait_errors(q{last_error LIKE '_AUTHENTICATION: %Authentication failed%'},
	'wrong password: every topic\'s last_error says the SASL authentication failed');
ok($node->wait_for_log(qr/WARNING:.*_AUTHENTICATION: .*Authentication failed.*\n.*HINT:.*sasl\.password in the file named by f1tel\.kafka_config_file/, 0),
	'and the server log says so, with a hint');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps'), '0', 'nothing was ingested');
no_secret('wrong password');

# --- 2. the right password, a reload: the group is not authorized
write_conf($f1tel);
my $log_at = -s $node->logfile;
$node->reload;
wait_errors(q{last_error LIKE 'GROUP_AUTHORIZATION_FAILED: %'},
	'right password, no ACL on the group: last_error says GROUP_AUTHORIZATION_FAILED');
ok($node->wait_for_log(qr/GROUP_AUTHORIZATION_FAILED.*\n.*HINT:.*READ on the consumer group/, $log_at),
	'and the server log says so, with a hint');

# --- 3. READ on the group: all but f1_laps
kafka_acl($broker, '--add', '--allow-principal', 'User:f1tel', '--operation', 'Read', '--group', 'f1tel-sasl');
my $expected = expected_counts($node);
my %but_laps = map { $_ => $expected->{$_} } grep { $_ ne 'laps' } keys %$expected;
ok(wait_for_counts($node, \%but_laps, 240), 'READ on the group granted: every table but laps reached its count');
wait_errors(q{topic <> 'f1_laps' OR last_error LIKE 'TOPIC_AUTHORIZATION_FAILED: %'},
	'f1_laps\'s last_error says TOPIC_AUTHORIZATION_FAILED');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.laps'), '0', 'no lap was ingested');
like(slurp_file($node->logfile), qr/TOPIC_AUTHORIZATION_FAILED.*\n.*HINT:.*READ and DESCRIBE on every topic/,
	'the server log says so, with a hint');

# --- 4. the topic's ACL: complete, exactly once
kafka_acl($broker, '--add', '--allow-principal', 'User:f1tel', '--operation', 'Read',
	'--operation', 'Describe', '--topic', 'f1_laps');
ok(wait_for_counts($node, $expected, 240), 'f1_laps granted: every table reached its count');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files field by field (missing/extra rows)");
}
$node->poll_query_until('postgres',
	'SELECT sum(lag) = 0 AND count(*) FILTER (WHERE high_watermark IS NULL) = 0 FROM f1tel.ingest_status')
  or diag errors();
# A topic the session has no record of (team_radio, intervals, ...) is in
# ingest_status only when the broker has it; then it must read 0+0.
my %want;
my %got = map { split /=/ } split / /, ingest_totals($node);
foreach my $ep (staging_tables())
{
	my $n = $node->safe_psql('postgres', "SELECT count(*) FROM f1tel_test.raw WHERE endpoint = '$ep'");
	my $topic = $node->safe_psql('postgres', "SHOW f1tel.topic_$ep");
	if ($n > 0) { $want{$topic} = "$n+0"; }
	elsif (exists $got{$topic} && $got{$topic} eq '0+0') { delete $got{$topic}; }
}
is_deeply(\%got, \%want, 'each record counted once per topic, no dead letter');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE partition < 0) || '/' || count(*) FILTER (WHERE stored_offset <> high_watermark)
	FROM f1tel.ingest_status}), '0/0',
	'no topic-wide error row left, every partition stored up to its high watermark');
no_secret('after the fixes');

# --- 5. SCRAM-SHA-512
my ($rdkafka) = `kcat -V` =~ /librdkafka (\d+)\.(\d+)\.(\d+)/ ? ($1 * 10000 + $2 * 100 + $3) : (0);
write_conf(props("$sec/f1tel-scram.properties"));
$log_at = -s $node->logfile;
$node->reload;
if ($rdkafka < 20601)
{
	ok($node->wait_for_log(qr/_AUTHENTICATION: .*SCRAM-SHA-512.*older than 2\.6\.1, which cannot authenticate with SCRAM to Apache Kafka 4/, $log_at),
		'SCRAM-SHA-512 with librdkafka before 2.6.1: the error names the cause');
	wait_errors(q{last_error LIKE '%older than 2.6.1%'}, 'and so does ingest_status');
}
else
{
	pass('librdkafka 2.6.1 or later: SCRAM works');
	pass('(nothing to report)');
}

# --- 6. a CA that did not sign the brokers' certificates
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=another CA'"
	  . " -keyout $tmp/other-ca.key -out $tmp/other-ca.pem 2>/dev/null") == 0
  or die 'openssl req failed';
write_conf({ %$f1tel, 'ssl.ca.location' => "$tmp/other-ca.pem" });
$log_at = -s $node->logfile;
$node->reload;
wait_errors(q{last_error LIKE '_SSL: %'}, 'another CA: last_error says the TLS handshake failed');
ok($node->wait_for_log(qr/_SSL: .*\n.*HINT:.*ssl\.ca\.location/, $log_at),
	'and the server log says so, with a hint');

# --- 7. a client certificate on the mTLS listener: a replay is consumed
my $mtls = slurp_file("$broker->{kafka_dir}/bootstrap-mtls");
chomp $mtls;
write_conf(props("$sec/f1tel-mtls.properties"));
$node->append_conf('postgresql.conf', "f1tel.brokers = '$mtls'\n");
my $before = $node->safe_psql('postgres', 'SELECT sum(stored_offset) FROM f1tel.ingest_status');
$node->reload;
is(run_feed($broker, sessions => ['9189'], endpoints => ['drivers'], extra => \@as_admin), 0,
	'drivers of 9189 replayed');
ok($node->poll_query_until('postgres', qq{
	SELECT sum(stored_offset) = $before + 20 AND sum(lag) = 0 FROM f1tel.ingest_status}),
	'with a client certificate (mTLS) the replay is consumed')
  or diag errors();
no_secret('at the end');

$node->stop;
stop_broker($broker);
done_testing();
