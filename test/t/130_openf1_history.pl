# test/t/130_openf1_history.pl — f1tel-feed --openf1: past sessions through
# the local OpenF1 (test/openf1/openf1_server.py), then into f1tel.
#
# 9189 and 9606 downloaded (car_data and location per driver and time
# window: the server answers a big query with its 422 "Query timed out")
# and replayed give every staging table exactly the rows of the files; the
# server never saw more than its 30 requests per 10 s; --save wrote the
# recorded layout with the same records; a 429 storm, 503s and a token
# endpoint are survived; an unknown session and a refused live request end
# with status 1 and a message.  The 105 car_data records of 9606 without a
# date cannot be asked for by time window (OpenF1 cannot return them to a
# windowed query either), so they are the only records not downloaded.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use OpenF1Local;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 16);
my $node = new_node('openf1h', broker => $broker);
my $of1 = start_openf1(sessions => [ '9189', '9606' ], args => [ '--max-rows', '30000' ]);
my $save = "$PostgreSQL::Test::Utils::tmp_check/openf1_saved";

my ($out, $err) = ('', '');
IPC::Run::run([ openf1_feed_command($broker, $of1, '--session', '9189', '--session', '9606',
	'--speed', 'max', '--save', $save) ], '>', \$out, '2>', \$err);
is($? >> 8, 0, 'f1tel-feed downloaded and delivered 9189 and 9606');
note $err;
like($err, qr/car_data\s+488120 records/, '9189 car_data: every record, in parts');
like($err, qr/[1-9]\d* too big and split/, 'the server found queries too big, and they were split');

my ($st, $stats) = openf1_get($of1, '/_control/stats');
cmp_ok($stats->{max_in_window}, '<=', 30, "at most 30 requests in any 10 s ($stats->{max_in_window})");
is($stats->{by_status}{429} // 0, 0, 'no request was refused for the rate');
cmp_ok($stats->{by_status}{422} // 0, '>', 0, 'some queries were too big (422)');

load_expected($node, [ '9189', '9606' ]);
my $expected = expected_counts($node);
ok(wait_for_counts($node, $expected, 240), 'every table reached its expected row count');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files field by field (missing/extra rows)");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.dead_letters'), '0',
	'no dead letter (the undated car_data records were not downloaded)');

# --save: the recorded layout, the same records (as sets of JSON values)
my $cmp = <<'PY';
import gzip, json, os, sys
saved, data = sys.argv[1], sys.argv[2]
def load(p):
    return json.load(gzip.open(p) if p.endswith(".gz") else open(p))
bad = []
for sk in ("9189", "9606"):
    for f in sorted(os.listdir(os.path.join(saved, sk))):
        ep = f.split(".")[0]
        got = sorted(json.dumps(r, sort_keys=True) for r in load(os.path.join(saved, sk, f)))
        p = os.path.join(data, sk, ep + ".json")
        exp = load(p if os.path.exists(p) else p + ".gz")
        if ep == "car_data":
            exp = [r for r in exp if r.get("date") is not None]
        exp = sorted(json.dumps(r, sort_keys=True) for r in exp)
        if got != exp:
            bad.append("%s/%s %d vs %d" % (sk, ep, len(got), len(exp)))
print("files=%d" % sum(len(os.listdir(os.path.join(saved, s))) for s in ("9189", "9606")))
print("bad=" + (",".join(bad) or "none"))
PY
my ($cout, $cerr) = ('', '');
IPC::Run::run([ '/usr/bin/python3', '-c', $cmp, $save, data_dir() ], '>', \$cout, '2>', \$cerr);
like($cout, qr/bad=none/, '--save wrote the same records as the recording') or diag "$cout $cerr";
like($cout, qr/files=(2[6-9]|3\d)/, '--save wrote one file per endpoint with records');

# a saved session replays from its files like a recording
is(run_feed($broker, sessions => [], extra => [ "$save/9606" ], endpoints => ['laps']), 0,
	'the saved folder replays with f1tel-feed DIR');

# --- faults: a 429 storm, 503s, the token endpoint failing once
openf1_post($of1, '/_control/faults', { storm_seconds => 4 });
openf1_post($of1, '/_control/faults', { fail_next => 3, fail_status => 503 });
my $pw = "$PostgreSQL::Test::Utils::tmp_check/openf1_pw";
PostgreSQL::Test::Utils::append_to_file($pw, "secret-of-alice\n");
($out, $err) = ('', '');
my $t0 = time();
IPC::Run::run([ openf1_feed_command($broker, $of1, '--session', '9189', '--speed', 'max',
	'--endpoints', 'laps,position,drivers,race_control,sessions,meetings,pit,stints,weather') ],
	'>', \$out, '2>', \$err);
is($? >> 8, 0, 'a 429 storm and three 503s were waited out');
($st, $stats) = openf1_get($of1, '/_control/stats');
cmp_ok($stats->{by_status}{429} // 0, '>', 0, "the server answered 429 ($stats->{by_status}{429})");
cmp_ok($stats->{by_status}{503} // 0, '>=', 3, 'and 503 three times');
like($err, qr/HTTP 503.*trying again/, 'the 503 was reported, with the retry');
like($err, qr/\d+ answered 429/, 'the summary counts the 429s');

# --- refusals end with status 1 and say why
($out, $err) = ('', '');
IPC::Run::run([ openf1_feed_command($broker, $of1, '--session', '1234', '--speed', 'max') ],
	'>', \$out, '2>', \$err);
is($? >> 8, 1, 'an unknown session: status 1');
like($err, qr/OpenF1 has no session 1234/, 'and the message says so');
($out, $err) = ('', '');
IPC::Run::run([ openf1_feed_command($broker, $of1, '--session', '9189', '--speed', 'max',
	'--username', 'alice', '--password-file', $pw) ], '>', \$out, '2>', \$err);
is($? >> 8, 1, 'a wrong password: status 1');
like($err, qr/refused the credentials of "alice" \(HTTP 401/, 'the token endpoint\'s refusal is reported');
unlike($err, qr/secret-of-alice/, 'without the password');
($out, $err) = ('', '');
IPC::Run::run([ 'f1tel-feed', '--brokers', $broker->{brokers}, '--openf1', $of1->{rest},
	'--session', '9189', '--mqtt' ], '>', \$out, '2>', \$err);
is($? >> 8, 2, '--mqtt without --live is a usage error');

stop_openf1($of1);
$node->stop;
stop_broker($broker);
done_testing();
