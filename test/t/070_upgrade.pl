# test/t/070_upgrade.pl — ALTER EXTENSION f1tel UPDATE from the oldest release,
# with real data and running workers, as a user upgrades.
#
# 1. The oldest release is built from git history (its commit is in
#    sql/upgrade/releases.txt) and put into a copy of this PostgreSQL
#    installation, so that a cluster can run the old library and its script.
# 2. That cluster runs 0.1: session 9189 is streamed through the broker, the
#    sink pushes it to the local BigQuery server and the upsert topic.
# 3. The cluster is restarted on this tree's installation: the new library
#    with the 0.1 schema.  While 9606 is streamed, the workers must not write
#    (a WARNING, "paused" in f1tel.workers, no row, no offset moved) and
#    f1tel.ingest_message() refuses.
# 4. ALTER EXTENSION f1tel UPDATE, step by step to the newest version: the
#    workers resume by themselves from f1tel.kafka_offsets; at the end every
#    table equals the files, each record counted once, the 9189 laps keep
#    their driver_laps versions, the subscriptions keep their history,
#    BigQuery holds no lap version twice, and the updated schema equals, in
#    every object, a fresh install of the newest version.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use File::Copy qw(copy);
use File::Path qw(make_path);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = repo_root();
my $tmp = PostgreSQL::Test::Utils::tempdir();

# ---- the versions: the oldest release (sql/upgrade/releases.txt) and the
# newest (f1tel.control), and the steps between them
my ($newest) = slurp_file("$root/f1tel.control") =~ /^default_version = '([^']+)'/m;
my ($oldest, $commit) = slurp_file("$root/sql/upgrade/releases.txt") =~ /^([0-9.]+) ([0-9a-f]{40})$/m;
# a tree without .git (an unpacked archive) cannot build it; a clone must
plan skip_all => 'not a git checkout: the old release cannot be built from history'
  unless -d "$root/.git";
BAIL_OUT("commit $commit of release $oldest is not in this clone's history (a shallow clone?)")
  unless system('git', '-C', $root, 'cat-file', '-e', "$commit^{commit}") == 0;

ok(defined $oldest && $oldest ne $newest, "oldest release $oldest (commit $commit), newest $newest");
my @steps = map { m{/f1tel--([0-9.]+)--([0-9.]+)\.sql$} ? [ $1, $2 ] : () }
  glob("$root/sql/upgrade/f1tel--*--*.sql");
# a path of steps from the oldest to the newest version, each step once
my @path = ($oldest);
while ($path[-1] ne $newest)
{
	my ($next) = map { $_->[1] } grep { $_->[0] eq $path[-1] } @steps;
	last unless defined $next;
	push @path, $next;
}
is($path[-1], $newest, 'upgrade steps lead from ' . join(' -> ', @path));

# ---- 1. the oldest release's library, built from git history
my $src = "$tmp/src-$oldest";
make_path($src);
system("git -C '$root' archive '$commit' | tar -x -C '$src'") == 0
  or BAIL_OUT("git archive $commit failed");
my ($mout, $merr) = ('', '');
IPC::Run::run([ 'make', '-C', $src, '-s', '-j2', 'f1tel.so', "f1tel--$oldest.sql" ],
	'>', \$mout, '2>', \$merr)
  or BAIL_OUT("building the $oldest release failed: $merr");

# A copy of this PostgreSQL installation holding the old f1tel: PostgreSQL
# finds its library and share directories relative to its binaries.
my $pg_config = `pg_config --bindir --sharedir --pkglibdir`;
my ($bindir, $sharedir, $pkglibdir) = split /\n/, $pg_config;
(my $instdir = $bindir) =~ s{/bin$}{};
my $stage = "$tmp/stage";
make_path("$stage$instdir", "$stage$sharedir");
system('cp', '-a', "$instdir/.", "$stage$instdir/") == 0 or BAIL_OUT('copying the installation failed');
system('cp', '-a', "$sharedir/.", "$stage$sharedir/") == 0 or BAIL_OUT('copying the share directory failed');
unlink glob("$stage$sharedir/extension/f1tel--*.sql");
copy("$src/f1tel.so", "$stage$pkglibdir/f1tel.so") or BAIL_OUT("copy f1tel.so: $!");
copy("$src/f1tel.control", "$stage$sharedir/extension/f1tel.control") or BAIL_OUT("copy control: $!");
copy("$src/f1tel--$oldest.sql", "$stage$sharedir/extension/") or BAIL_OUT("copy script: $!");
is(`$stage$bindir/pg_config --pkglibdir`, "$stage$pkglibdir\n", 'the copied installation finds its own libraries');

# ---- 2. the old release, with real data
my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my $node = new_node('upgrade', broker => $broker, conf => sink_conf($bq),
	install_path => "$stage$instdir", version => $oldest);
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'f1tel'}),
	$oldest, "extension installed at $oldest");

is(run_feed($broker, sessions => ['9189']), 0, 'f1tel-feed delivered 9189');
load_expected($node, ['9189']);
my $exp9189 = expected_counts($node);
ok(wait_for_counts($node, $exp9189, 240), "$oldest ingested 9189");
ok(wait_for_sinks($node), "$oldest pushed 9189 to both sinks");

my $versions_sql = q{SELECT string_agg(session_key || '/' || driver_number || '/' || lap_number || '=' || version,
	',' ORDER BY session_key, driver_number, lap_number) FROM f1tel.driver_laps WHERE session_key = 9189};
my $offsets_sql = q{SELECT string_agg(topic || '[' || partition || ']=' || coalesce(next_offset, -1) || '/' || rows_total,
	',' ORDER BY topic, partition) FROM f1tel.kafka_offsets};
my $subs_sql = q{SELECT string_agg(name || '@' || created_at, ',' ORDER BY name) FROM f1tel.change_subscribers};
my $versions_before = $node->safe_psql('postgres', $versions_sql);
my $offsets_before = $node->safe_psql('postgres', $offsets_sql);
my $subs_before = $node->safe_psql('postgres', $subs_sql);
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'), '949', "$oldest: 949 laps in driver_laps");
like($subs_before, qr/^bigquery@.*,kafka@/, "$oldest: both sinks subscribed");
$node->stop;

# ---- 3. the new library with the old schema: the workers pause
# The same data directory, now run by this tree's installation (the node's
# install path is what its start and psql use).
$node->{_install_path} = $instdir;
my $log_at = -s $node->logfile;
$node->start;
$node->wait_for_log(qr/f1tel ingest 1: extension "f1tel" in database "postgres" is version \Q$oldest\E but the library is \Q$newest\E; the worker is paused/, $log_at);
$node->wait_for_log(qr/f1tel sink: extension "f1tel" in database "postgres" is version \Q$oldest\E but the library is \Q$newest\E; the worker is paused/, $log_at);
pass('both workers said they are paused, with both versions');
like(slurp_file($node->logfile, $log_at), qr/HINT:  Run ALTER EXTENSION f1tel UPDATE in database "postgres"/,
	'the warning says what to do');

is(run_feed($broker, sessions => ['9606']), 0, 'f1tel-feed delivered 9606 while the workers are paused');
sleep 4;	# several of the workers' 2-second checks
is($node->safe_psql('postgres', q{SELECT count(*) FROM f1tel.laps WHERE session_key = 9606}), '0',
	'paused: no 9606 row was written');
is($node->safe_psql('postgres', $offsets_sql), $offsets_before, 'paused: no offset moved');
like($node->safe_psql('postgres', q{SELECT string_agg(activity, ' | ') FROM f1tel.workers WHERE worker IN ('f1tel ingest', 'f1tel sink')}),
	qr/paused: extension version \Q$oldest\E, library \Q$newest\E.*paused/, 'f1tel.workers shows both workers paused');
my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT * FROM f1tel.ingest_message('f1_drivers', '{"session_key": 1, "driver_number": 1}')});
like($err, qr/extension "f1tel" is version \Q$oldest\E but the library is \Q$newest\E/,
	'f1tel.ingest_message() refuses to write through the old schema');

# ---- 4. the update, step by step
for my $i (1 .. $#path)
{
	$node->safe_psql('postgres', "ALTER EXTENSION f1tel UPDATE TO '$path[$i]'");
	is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'f1tel'}),
		$path[$i], "updated $path[$i-1] -> $path[$i]");
}
is($node->safe_psql('postgres', 'SELECT f1tel.library_version()'), $newest, 'f1tel.library_version()');
$node->wait_for_log(qr/f1tel ingest 1: extension "f1tel" is version \Q$newest\E, as the library; resuming/, $log_at);
pass('the ingest worker resumed by itself');

load_expected($node, [ '9189', '9606' ]);
my $expected = expected_counts($node);
ok(wait_for_counts($node, $expected, 240), 'after the update, both sessions are in the staging tables');
foreach my $t (staging_tables())
{
	my ($missing, $extra) = compare_with_files($node, $t);
	is("$missing/$extra", '0/0', "$t equals the files field by field (missing/extra rows)");
}
$node->poll_query_until('postgres', 'SELECT sum(lag) = 0 FROM f1tel.ingest_status')
  or die 'the offsets did not reach the high watermarks';
is(ingest_totals($node), BOTH_SESSIONS_TOTALS,
	'exactly once across the upgrade: each record counted once per topic');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps_drift'), '0',
	'driver_laps equals its view');
# the new inputs of 0.2 (stints, pit, weather and car_data's telemetry) change
# the 9189 rows: their versions go on from where they were, never back
{
	my %before = map { split /=/ } split /,/, $versions_before;
	my %after = map { split /=/ } split /,/, $node->safe_psql('postgres', $versions_sql);
	my @back = grep { !defined $after{$_} || $after{$_} < $before{$_} } sort keys %before;
	is(scalar(@back) . '/' . scalar(keys %after), '0/' . scalar(keys %before),
		'the 9189 laps kept their driver_laps versions: none lost, none went back')
	  or diag("went back or lost: @back[0 .. ($#back < 9 ? $#back : 9)]");
	ok((grep { $after{$_} > $before{$_} } keys %before) > 0,
		'the update recomputed the 9189 laps with the new columns (new versions)');
}
is($node->safe_psql('postgres', $subs_sql), $subs_before, 'the subscriptions survived the update');
ok(wait_for_sinks($node), 'the sinks resumed and pushed every change');

my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
my %seen;
my $twice = grep { $seen{"$_->{session_key}/$_->{driver_number}/$_->{lap_number}/$_->{version}"}++ } @$rows;
is($twice, 0, 'BigQuery: no lap version stored twice across the upgrade (' . scalar(@$rows) . ' rows)');
my %latest;
for my $r (@$rows)
{
	my $k = "$r->{session_key}/$r->{driver_number}/$r->{lap_number}";
	$latest{$k} = $r->{version} if !defined $latest{$k} || $r->{version} > $latest{$k};
}
my $local = $node->safe_psql('postgres', q{SELECT string_agg(session_key || '/' || driver_number || '/' || lap_number || '=' || version,
	',' ORDER BY session_key || '/' || driver_number || '/' || lap_number) FROM f1tel.driver_laps});
is(join(',', map { "$_=$latest{$_}" } sort keys %latest), $local,
	'BigQuery: the latest version of every lap is the one in driver_laps');

# ---- the updated schema equals a fresh install
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION f1tel');
my $fingerprint = slurp_file("$root/test/lib/schema_fingerprint.sql");
my %updated = map { $_ => 1 } split /\n/, $node->safe_psql('postgres', $fingerprint);
my %fresh = map { $_ => 1 } split /\n/, $node->safe_psql('fresh', $fingerprint);
my @only_updated = grep { !$fresh{$_} } sort keys %updated;
my @only_fresh = grep { !$updated{$_} } sort keys %fresh;
cmp_ok(scalar(keys %fresh), '>', 100, scalar(keys %fresh) . ' objects and details compared');
is(scalar(@only_updated) + scalar(@only_fresh), 0,
	"the schema updated from $oldest equals a fresh install of $newest")
  or diag join("\n", (map { "only after the update: $_" } @only_updated),
	(map { "only in a fresh install: $_" } @only_fresh));

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
