# test/t/030_bigquery_server.pl — the local BigQuery server (test/bigquery/server.py).
#
# Starts the server on a free port (--port 0, the port is read from its
# "ready on" line) and drives it two ways:
#  - with Google's own `bq` CLI: mk --dataset, show, mk --table, show,
#    insert, head, ls, query COUNT(*);
#  - with Google's Python client, google-cloud-bigquery (the python named by
#    F1TEL_BQ_PYTHON, or python3 if it has the module): create_dataset,
#    create_table, get_table, insert_rows_json (row_ids de-duplicated, an
#    unknown field refused), list_rows, query_and_wait, update_table (a
#    column added), list_datasets;
#  - over HTTP (HTTP::Tiny): insertAll unknown field -> invalid + stopped,
#    insertId de-duplication, the 10 MB JSON 400 and the HTML 413, TRUNCATE
#    refused while rows are in the streaming buffer (then allowed after
#    POST /_clock moves time on), the JWT-bearer token flow with a key made by
#    `openssl genrsa` (a wrong key refused, an expired token -> 401), fault
#    injection (503 twice, then success).
# Needs no PostgreSQL; runs as any user (HOME for bq is a temporary directory).
# google-cloud-bigquery missing fails the test when F1TEL_REQUIRE_BQ_CLIENTS=1
# (test/run-tests.sh sets it; test/install-deps.sh installs that client).
# Google's bq CLI comes from no registry this machine reaches: where it is not
# installed its part is skipped, loudly (a diag, and run-tests.sh says so at
# the end), unless F1TEL_REQUIRE_BQ_CLI=1 makes that a failure too.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

my $server = abs_path(dirname(__FILE__) . '/../bigquery/server.py');
my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
my $tmp = tempdir('bqserver-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $json = JSON::PP->new->canonical->utf8;
my $log = "$tmp/server.log";
my @pids;
my @pipes;    # a piped open's handle waits for its child when closed: keep them

END
{
	for my $pid (@pids)
	{
		kill 'TERM', $pid;
		waitpid($pid, 0);
	}
}

# start the server, return its port
sub start_server
{
	my @args = @_;
	my $pid = open(my $out, '-|');
	die "fork: $!" unless defined $pid;
	if (!$pid)
	{
		open(STDERR, '>>', $log) or die "$log: $!";
		exec($python, $server, '--port', '0', @args) or die "exec $python: $!";
	}
	push @pids, $pid;
	push @pipes, $out;
	my $line;
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 30;
		$line = <$out>;
		alarm 0;
	};
	my $port = ($line // '') =~ /ready on http:\/\/127\.0\.0\.1:(\d+)/ ? $1 : undef;
	if (!defined $port)
	{
		diag(slurp($log));
		BAIL_OUT("bigquery server did not start: " . ($line // 'no output'));
	}
	return $port;
}

sub slurp
{
	my ($f) = @_;
	open(my $fh, '<', $f) or return '';
	local $/;
	return scalar <$fh>;
}

sub spew
{
	my ($f, $data) = @_;
	open(my $fh, '>', $f) or die "$f: $!";
	binmode $fh;
	print $fh $data;
	close $fh;
}

sub run_quiet
{
	my @cmd = @_;
	my $rc = system(join(' ', map { "'$_'" } @cmd) . " >/dev/null 2>&1");
	return $rc == 0;
}

# ---- the server, and an HTTP client ---------------------------------------

# keys for the JWT flow
ok(run_quiet('openssl', 'genrsa', '-out', "$tmp/key.pem", '2048'), 'openssl genrsa: the service account key');
ok(run_quiet('openssl', 'rsa', '-in', "$tmp/key.pem", '-pubout', '-out', "$tmp/pub.pem"), 'its public key');
ok(run_quiet('openssl', 'genrsa', '-out', "$tmp/wrong.pem", '2048'), 'another key');

my $static = 'bq-test-token';
my $port = start_server(
	'--require-auth' => 'jwt',
	'--public-key' => "$tmp/pub.pem",
	'--static-token' => $static,
	'--token-lifetime' => '1');
note "server on port $port, log $log";
my $base = "http://127.0.0.1:$port";
my $api = "$base/bigquery/v2/projects/p";
my $http = HTTP::Tiny->new(timeout => 60);

# (status, decoded JSON or raw content, response)
sub call
{
	my ($method, $url, $body, %opt) = @_;
	my %h = (Authorization => "Bearer " . ($opt{token} // $static));
	delete $h{Authorization} if exists $opt{token} && !defined $opt{token};
	my %req = (headers => \%h);
	if (defined $body)
	{
		$req{content} = ref $body ? $json->encode($body) : $body;
		$h{'Content-Type'} = $opt{type} // 'application/json';
	}
	my $r = $http->request($method, $url, \%req);
	my $content = $r->{content};
	my $decoded = eval { $json->decode($content) };
	return ($r->{status}, $decoded // $content, $r);
}

sub stats { my (undef, $s) = call('GET', "$base/_stats"); return $s; }

# ---- bq --------------------------------------------------------------------

SKIP:
{
	my $bq = `sh -c 'command -v bq' 2>/dev/null`;
	chomp $bq;
	fail("Google's bq CLI is required (F1TEL_REQUIRE_BQ_CLI=1) but not installed")
	  if !$bq && $ENV{F1TEL_REQUIRE_BQ_CLI};
	diag "WARNING: Google's bq CLI is not installed: its 10 checks of the local BigQuery server do not run"
	  unless $bq;
	skip "Google's bq CLI is not installed", 10 unless $bq;

	local $ENV{HOME} = "$tmp/home";
	local $ENV{CLOUDSDK_CONFIG} = "$tmp/home/gcloud";
	mkdir $ENV{HOME};
	my @bq = ('bq', "--api=$base", '--project_id=p', "--oauth_access_token=$static");

	# (exit status, stdout+stderr)
	my $run = sub {
		my @cmd = @_;
		my $pid = open(my $fh, '-|');
		die "fork: $!" unless defined $pid;
		if (!$pid)
		{
			open(STDERR, '>&', \*STDOUT);
			exec(@cmd) or die "exec bq: $!";
		}
		local $/;
		my $out = <$fh>;
		close $fh;
		return ($? >> 8, $out // '');
	};
	my ($rc, $out);

	($rc, $out) = $run->(@bq, 'mk', '--dataset', 'p:ds');
	is($rc, 0, 'bq mk --dataset') or diag $out;
	($rc, $out) = $run->(@bq, '--format=json', 'show', 'p:ds');
	like($out, qr/"datasetId":\s*"ds"/, 'bq show dataset') or diag $out;
	($rc, $out) = $run->(@bq, 'mk', '--table', 'p:ds.t', 'name:STRING,n:INTEGER');
	is($rc, 0, 'bq mk --table') or diag $out;
	($rc, $out) = $run->(@bq, '--format=json', 'show', 'p:ds.t');
	like($out, qr/"name":\s*"n",\s*"type":\s*"INTEGER"/, 'bq show table: the schema') or diag $out;
	spew("$tmp/rows.json", qq({"name":"a","n":1}\n{"name":"b","n":2}\n{"name":"c","n":"3"}\n));
	($rc, $out) = $run->(@bq, 'insert', 'p:ds.t', "$tmp/rows.json");
	is($rc, 0, 'bq insert (newline-delimited JSON)') or diag $out;
	($rc, $out) = $run->(@bq, '--format=json', 'head', 'p:ds.t');
	my $rows = eval { $json->decode($out) } // [];
	is_deeply([ map { "$_->{name}=$_->{n}" } @$rows ], [ 'a=1', 'b=2', 'c=3' ], 'bq head')
	  or diag $out;
	($rc, $out) = $run->(@bq, '--format=json', 'query', '--nouse_legacy_sql',
		'SELECT COUNT(*) AS n FROM ds.t');
	like($out, qr/"n":\s*"3"/, 'bq query --nouse_legacy_sql COUNT(*)') or diag $out;
	($rc, $out) = $run->(@bq, 'query', '--nouse_legacy_sql',
		'SELECT * FROM ds.t a JOIN ds.t b USING (n)');
	isnt($rc, 0, 'bq query: an unsupported shape fails');
	like($out =~ s/\s+/ /gr, qr/query shape not supported by the local server/, '... saying so')
	  or diag $out;

	# the token-file credential (gcloud's wrapper; slower) against the same check
	{
		spew("$tmp/token", "$static\n");
		local $ENV{CLOUDSDK_AUTH_ACCESS_TOKEN_FILE} = "$tmp/token";
		($rc, $out) = $run->('bq', "--api=$base", '--project_id=p', '--format=json', 'ls', 'p:ds');
		like($out, qr/"tableId":\s*"t"/, 'bq ls with CLOUDSDK_AUTH_ACCESS_TOKEN_FILE') or diag $out;
	}
}

# ---- google-cloud-bigquery (Python) -----------------------------------------

SKIP:
{
	my $py;
	foreach my $cand (grep { defined && $_ ne '' } $ENV{F1TEL_BQ_PYTHON}, $python)
	{
		if (run_quiet($cand, '-c', 'import google.cloud.bigquery'))
		{
			$py = $cand;
			last;
		}
	}
	fail('google-cloud-bigquery is required (F1TEL_REQUIRE_BQ_CLIENTS=1) but no python has it'
		  . ' (F1TEL_BQ_PYTHON=' . ($ENV{F1TEL_BQ_PYTHON} // '') . ')')
	  if !$py && $ENV{F1TEL_REQUIRE_BQ_CLIENTS};
	skip 'google-cloud-bigquery is not installed', 10 unless $py;

	spew("$tmp/gcbq.py", <<'PY');
import json, sys
from google.api_core.client_options import ClientOptions
from google.cloud import bigquery
from google.oauth2.credentials import Credentials

base, token = sys.argv[1], sys.argv[2]
c = bigquery.Client(project="p", credentials=Credentials(token=token),
                    client_options=ClientOptions(api_endpoint=base))
out = {"version": bigquery.__version__}
out["dataset"] = c.create_dataset("p.gc").dataset_id
c.create_table(bigquery.Table("p.gc.t", schema=[
    bigquery.SchemaField("name", "STRING"), bigquery.SchemaField("n", "INTEGER"),
    bigquery.SchemaField("at", "TIMESTAMP")]))
out["schema"] = [f.name for f in c.get_table("p.gc.t").schema]
out["insert_errors"] = c.insert_rows_json("p.gc.t", [
    {"name": "a", "n": 1, "at": "2023-11-19T06:00:00Z"}, {"name": "b", "n": 2, "at": None}],
    row_ids=["r1", "r2"])
out["insert_again"] = c.insert_rows_json("p.gc.t", [{"name": "a", "n": 1}], row_ids=["r1"])
out["insert_bad"] = bool(c.insert_rows_json("p.gc.t", [{"name": "c", "nope": 1}]))
out["rows"] = sorted([r["name"], r["n"], r["at"].isoformat() if r["at"] else None]
                     for r in c.list_rows("p.gc.t"))
out["count"] = [r["n"] for r in c.query_and_wait("SELECT COUNT(*) AS n FROM gc.t")]
t = c.get_table("p.gc.t")
t.schema = list(t.schema) + [bigquery.SchemaField("extra", "STRING")]
out["patched"] = [f.name for f in c.update_table(t, ["schema"]).schema]
out["datasets"] = [d.dataset_id for d in c.list_datasets()]
print(json.dumps(out, sort_keys=True))
PY
	my $out = `'$py' '$tmp/gcbq.py' '$base' '$static' 2>&1`;
	is($?, 0, 'google-cloud-bigquery: the script ran') or diag $out;
	my ($line) = $out =~ /^(\{.*\})\s*$/m;
	my $g = eval { $json->decode($line // '') } // {};
	note "google-cloud-bigquery $g->{version}" if $g->{version};
	is($g->{dataset}, 'gc', 'google-cloud-bigquery: create_dataset');
	is_deeply($g->{schema}, [qw(name n at)], '... create_table, get_table');
	is_deeply($g->{insert_errors}, [], '... insert_rows_json');
	is_deeply($g->{insert_again}, [], '... a row_id sent again is accepted');
	ok($g->{insert_bad}, '... an unknown field is refused');
	is_deeply($g->{rows}, [ [ 'a', 1, '2023-11-19T06:00:00+00:00' ], [ 'b', 2, undef ] ],
		'... list_rows: each row once, TIMESTAMPs as such');
	is_deeply($g->{count}, [2], '... query_and_wait COUNT(*)');
	is_deeply($g->{patched}, [qw(name n at extra)], '... update_table adds a column');
	ok((grep { $_ eq 'gc' } @{ $g->{datasets} // [] }), '... list_datasets');
}

# ---- HTTP checks ------------------------------------------------------------

my ($st, $r);
($st, $r) = call('POST', "$api/datasets", { datasetReference => { datasetId => 'h' } });
is($st, 200, 'datasets.insert');
($st, $r) = call('POST', "$api/datasets", { datasetReference => { datasetId => 'h' } });
is($st, 409, 'datasets.insert again: 409');
is($r->{error}{errors}[0]{reason}, 'duplicate', '... reason duplicate');
($st, $r) = call('POST', "$api/datasets/h/tables", {
	tableReference => { tableId => 'laps' },
	schema => { fields => [
		{ name => 'session_key', type => 'INT64', mode => 'REQUIRED' },
		{ name => 'lap_number', type => 'INTEGER' },
		{ name => 'note', type => 'STRING' } ] } });
is($st, 200, 'tables.insert') or diag explain $r;

# unknown field: invalid, the others stopped, nothing stored
($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll", { rows => [
	{ insertId => 'r1', json => { session_key => 1, lap_number => 1 } },
	{ insertId => 'r2', json => { session_key => 1, lap_number => 2, bogus => 'x' } } ] });
is($st, 200, 'insertAll with an unknown field: HTTP 200');
my %errs = map { $_->{index} => $_->{errors}[0] } @{ $r->{insertErrors} // [] };
is_deeply($errs{1}, { reason => 'invalid', location => 'bogus', message => 'no such field.', debugInfo => '' },
	'... the row: invalid / no such field.');
is($errs{0}{reason}, 'stopped', '... the valid row: stopped');
is(stats()->{rows}{'p:h.laps'}, 0, '... nothing inserted');

# an unknown top-level field is a 400
($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll",
	{ rows => [ { json => { session_key => 1 } } ], skipInvalid => JSON::PP::true });
is($st, 400, 'insertAll with an unknown request field: 400');
like($r->{error}{message}, qr/Unknown name "skipInvalid"/, '... naming it');

# insertId de-duplication
my @rows = map { { insertId => "k$_", json => { session_key => 9158, lap_number => $_ } } } 1 .. 3;
($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll", { rows => \@rows });
ok($st == 200 && !$r->{insertErrors}, 'insertAll: 3 rows');
($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll", { rows => [ @rows[ 1, 2 ],
	{ insertId => 'k4', json => { session_key => 9158, lap_number => 4 } } ] });
ok($st == 200 && !$r->{insertErrors}, 'insertAll again with 2 known insertIds');
is(stats()->{rows}{'p:h.laps'}, 4, '... stored once: 4 rows');
($st, $r) = call('GET', "$api/datasets/h/tables/laps/data?maxResults=3");
is($r->{totalRows}, '4', 'tabledata.list totalRows');
is_deeply([ map { $_->{f}[1]{v} } @{ $r->{rows} } ], [ '1', '2', '3' ], '... values as strings, a page of 3');
ok($r->{pageToken}, '... and a pageToken');

# payload limits
my $fat = { json => { session_key => 1, note => 'x' x 1000 } };
($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll", { rows => [ ($fat) x 11000 ] });
is($st, 400, '11 MB insertAll: 400');
is($r->{error}{message}, 'Request payload size exceeds the limit: 10485760 bytes.', '... with BigQuery\'s message');
my $resp;
($st, $r, $resp) = call('POST', "$api/datasets/h/tables/laps/insertAll", { rows => [ ($fat) x 13000 ] });
is($st, 413, '13 MB insertAll: 413');
like($resp->{headers}{'content-type'}, qr{^text/html}, '... an HTML page from the front end');

# streaming buffer
my $q = sub { call('POST', "$api/queries", { query => $_[0], useLegacySql => JSON::PP::false }) };
($st, $r) = $q->('TRUNCATE TABLE h.laps');
is($st, 400, 'TRUNCATE right after insertAll: 400');
like($r->{error}{message}, qr/would affect rows in the streaming buffer, which is not supported/,
	'... the streaming buffer message');
($st, $r) = call('POST', "$base/_clock", { advance_s => 1801 });
($st, $r) = $q->('TRUNCATE TABLE h.laps');
is($st, 200, 'TRUNCATE once the rows left the buffer (clock +1801 s)') or diag explain $r;
($st, $r) = $q->('SELECT COUNT(*) FROM `p.h.laps`');
is($r->{rows}[0]{f}[0]{v}, '0', '... the table is empty');

# fault injection: 503 twice, then success
($st, $r) = call('POST', "$base/_fault", { status => 503, count => 2, path_contains => 'insertAll' });
is($st, 200, 'fault queued');
my @seen;
for (1 .. 3)
{
	($st, $r) = call('POST', "$api/datasets/h/tables/laps/insertAll",
		{ rows => [ { insertId => 'f1', json => { session_key => 2 } } ] });
	push @seen, $st;
}
is_deeply(\@seen, [ 503, 503, 200 ], 'insertAll: 503, 503, then 200');
is(stats()->{rows}{'p:h.laps'}, 1, '... one row stored');

# ---- OAuth: JWT bearer grant ---------------------------------------------------

sub jwt
{
	my ($key, %claims) = @_;
	my $now = time();
	my %c = (
		iss => 'sink@p.iam.gserviceaccount.com',
		scope => 'https://www.googleapis.com/auth/bigquery',
		aud => 'https://oauth2.googleapis.com/token',
		iat => int($now), exp => int($now) + 3600, %claims);
	my $input = encode_base64url($json->encode({ alg => 'RS256', typ => 'JWT' })) . '.'
	  . encode_base64url($json->encode(\%c));
	spew("$tmp/jwt.in", $input);
	my $sig = `openssl dgst -sha256 -sign '$key' '$tmp/jwt.in'`;
	return $input . '.' . encode_base64url($sig);
}

sub grant
{
	my ($assertion) = @_;
	return call('POST', "$base/token",
		"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=$assertion",
		type => 'application/x-www-form-urlencoded', token => undef);
}

($st, $r) = call('GET', "$api/datasets", undef, token => undef);
is($st, 401, 'no credential: 401');
($st, $r) = grant(jwt("$tmp/key.pem"));
is($st, 200, 'POST /token with a JWT signed by the service account key') or diag explain $r;
is($r->{token_type}, 'Bearer', '... a Bearer token');
is($r->{expires_in}, 1, '... living --token-lifetime seconds');
my $token = $r->{access_token};
($st, $r) = call('GET', "$api/datasets", undef, token => $token);
is($st, 200, 'the token opens the API');
($st, $r) = grant(jwt("$tmp/wrong.pem"));
is($st, 400, 'a JWT signed by another key: 400');
is($r->{error}, 'invalid_grant', '... invalid_grant');
($st, $r) = grant(jwt("$tmp/key.pem", exp => int(time()) + 7200));
is($r->{error}, 'invalid_grant', 'a JWT living 2 hours: invalid_grant');
sleep(1.2);
($st, $r, $resp) = call('GET', "$api/datasets", undef, token => $token);
is($st, 401, 'the token, expired: 401');
is($r->{error}{status}, 'UNAUTHENTICATED', '... Google\'s error envelope');
like($resp->{headers}{'www-authenticate'} // '', qr/invalid_token/, '... and WWW-Authenticate');

done_testing();
