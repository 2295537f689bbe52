# test/t/132_openf1_mqtt.pl — f1tel-feed --live --mqtt: session 9606 at 60x
# on the local OpenF1's MQTT feed, through a real Mosquitto (TLS, password
# auth: any user name, the OpenF1 token as password).
#
# Mid-session every token is expired (the server rewrites Mosquitto's
# password file and REST refuses the old token), then Mosquitto is stopped
# for a while and started again: the follower must get a new token, connect
# again, and fill the gap (what the server published while Mosquitto was
# down is lost to MQTT) from REST.  At the end every staging table equals the
# files and driver_laps its view; no version reached Kafka twice.  Without
# telemetry, as in 131 (OpenF1 needs an F1TV login for it live).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use OpenF1Local;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my @endpoints = live_endpoints();
my $tmp = $PostgreSQL::Test::Utils::tmp_check;
my $mq = "$tmp/mosquitto";
my $mport = PostgreSQL::Test::Cluster::get_free_port();
start_mosquitto($mq, $mport);
PostgreSQL::Test::Utils::append_to_file("$mq/server-password", "server-secret\n");

my $broker = start_broker(partitions => 4);
my $node = new_node('openf1m', broker => $broker);
my $of1 = start_openf1(sessions => ['9606'], args => [
	'--live', '9606', '--speed', '60', '--lead', '30', '--user', 'alice:alice-password',
	'--withhold-every', '20', '--backfill-after', '600', '--rate-auth', '60/10',
	'--mqtt-host', '127.0.0.1', '--mqtt-port', $mport, '--mqtt-cafile', "$mq/ca.crt",
	'--mqtt-user', 'openf1-server', '--mqtt-password-file', "$mq/server-password",
	'--mosquitto-passwd', "$mq/passwd", '--mosquitto-pid-file', "$mq/mosquitto.pid" ]);
my $pw = "$tmp/openf1_mqtt_pw";
PostgreSQL::Test::Utils::append_to_file($pw, "alice-password\n");

my @cmd = (openf1_feed_command($broker, $of1, '--session', '9606', '--live',
	'--mqtt', "mqtts://127.0.0.1:$mport", '--mqtt-cafile', "$mq/ca.crt",
	'--username', 'alice', '--password-file', $pw, '--rate', '60/10',
	'--state', "$tmp/openf1_mqtt.state", '--poll-ms', '1000', '--reconcile-s', '60',
	'--linger-s', '780', '--endpoints', join(',', @endpoints)));
my $err = '';
my $h = IPC::Run::start(\@cmd, '>', \my $out, '2>', \$err);

sub wait_sim
{
	my ($at) = @_;
	my $deadline = time() + 300;
	while (time() < $deadline)
	{
		my ($s, $clock) = openf1_get($of1, '/_control/clock');
		return 1 if $clock && $clock->{now} ge $at;
		$h->pump_nb;
		usleep(250_000);
	}
	return 0;
}

ok(wait_sim('2024-09-22T12:30'), 'the race reached 12:30 (simulated)');
$h->pump_nb;
like($err, qr/MQTT connected to mqtts:/, 'the follower connected to Mosquitto over TLS');
my ($s, $r) = openf1_post($of1, '/_control/faults', { expire_tokens => JSON::PP::true });
is($s, 200, 'every token expired');
ok(wait_sim('2024-09-22T12:40'), 'ten minutes later');
stop_mosquitto($mq);
note 'mosquitto stopped';
ok(wait_sim('2024-09-22T12:55'), 'fifteen minutes without Mosquitto');
start_mosquitto($mq, $mport);
note 'mosquitto started again';

my $ok = eval { $h->finish; 1 };
note "follower: $err";
is($? >> 8, 0, 'the follower ran to the end of the session: status 0');
like($err, qr/MQTT disconnected/, 'it saw the disconnect');
my $connects = () = $err =~ /MQTT connected to/g;
cmp_ok($connects, '>=', 2, "and connected again ($connects connects)");
like($err, qr/MQTT connected.*\n.*gap filled from REST at \S+: [^\n]*laps \+[1-9]/,
	'after a reconnect the gap was filled from REST, laps included');
my ($s2, $stats) = openf1_get($of1, '/_control/stats');
cmp_ok($stats->{tokens_issued}, '>=', 2, "a new token was fetched ($stats->{tokens_issued} issued)");
unlike($err, qr/alice-password/, 'the password is in no message');

check_live_result($node, $broker);

stop_openf1($of1);
stop_mosquitto($mq);
$node->stop;
stop_broker($broker);
done_testing();
