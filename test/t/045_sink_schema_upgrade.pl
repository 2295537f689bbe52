# test/t/045_sink_schema_upgrade.pl — the sink upgrades the schema of a
# BigQuery table that f1tel 0.1 created, and refuses a table it cannot use.
#
# 1. The local BigQuery server holds driver_laps with the 0.1 schema (22
#    fields, partitioned and clustered as 0.1 made it) and one row of 0.1 (a
#    lap of 9189 from test/data/openf1, which this test does not replay), and
#    race_control with its fields plus a column of the user's.  After a
#    replay of 9606 the sink must have appended f1tel's missing fields with
#    tables.patch (the old ones first, unchanged and in order, the new ones
#    NULLABLE), kept the old row and the user's column, and pushed every lap:
#    the latest version of each lap in BigQuery equals f1tel.driver_laps on
#    every column that both have, whatever the PostgreSQL schema (a column
#    BigQuery has and driver_laps not yet, during an upgrade, must be NULL).
# 2. Another dataset whose driver_laps has compound INT64 (f1tel writes
#    STRING): after a reload onto it and a replay of 9606 as another session,
#    the sink refuses for good (sink_status paused, last_error naming the
#    column, the log with the hint), changes nothing in BigQuery and keeps
#    every change queued.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $broker = start_broker(partitions => 4);
my $bq = start_bigquery();
my $api = '/bigquery/v2/projects/f1tel-test';

# driver_laps as f1tel 0.1 created it (src/sink/bigquery.c of 0.1)
my @old_fields = map { { name => $_->[0], type => $_->[1], mode => $_->[2] // 'NULLABLE' } } (
	[ 'session_key', 'INT64', 'REQUIRED' ], [ 'meeting_key', 'INT64' ], [ 'driver_number', 'INT64', 'REQUIRED' ],
	[ 'lap_number', 'INT64', 'REQUIRED' ], [ 'date_start', 'TIMESTAMP' ], [ 'lap_duration', 'FLOAT64' ],
	[ 'duration_sector_1', 'FLOAT64' ], [ 'duration_sector_2', 'FLOAT64' ], [ 'duration_sector_3', 'FLOAT64' ],
	[ 'i1_speed', 'INT64' ], [ 'i2_speed', 'INT64' ], [ 'st_speed', 'INT64' ], [ 'is_pit_out_lap', 'BOOL' ],
	[ 'lap_end', 'TIMESTAMP' ], [ 'position', 'INT64' ], [ 'name_acronym', 'STRING' ],
	[ 'full_name', 'STRING' ], [ 'team_name', 'STRING' ], [ 'team_colour', 'STRING' ],
	[ 'version', 'INT64', 'REQUIRED' ], [ 'updated_at', 'TIMESTAMP' ], [ 'deleted', 'BOOL' ]);
my @rc_fields = map { { name => $_->[0], type => $_->[1], mode => $_->[2] // 'NULLABLE' } } (
	[ 'id', 'INT64', 'REQUIRED' ], [ 'session_key', 'INT64', 'REQUIRED' ], [ 'meeting_key', 'INT64' ],
	[ 'date', 'TIMESTAMP' ], [ 'driver_number', 'INT64' ], [ 'lap_number', 'INT64' ], [ 'sector', 'INT64' ],
	[ 'category', 'STRING' ], [ 'flag', 'STRING' ], [ 'scope', 'STRING' ], [ 'message', 'STRING' ],
	[ 'note', 'STRING' ]);	# the user's own column

sub make_table
{
	my ($dataset, $table, $fields, %extra) = @_;
	my ($st, $r) = bq_call($bq, 'POST', "$api/datasets/$dataset/tables",
		{ tableReference => { projectId => 'f1tel-test', datasetId => $dataset, tableId => $table },
		  schema => { fields => $fields }, %extra });
	return $st;
}

sub schema_of
{
	my ($dataset, $table) = @_;
	my ($st, $r) = bq_call($bq, 'GET', "$api/datasets/$dataset/tables/$table");
	die "tables.get $dataset.$table: $st" unless $st == 200;
	return $r;
}

foreach my $ds (qw(f1 f1c))
{
	my ($st) = bq_call($bq, 'POST', "$api/datasets", { datasetReference => { projectId => 'f1tel-test', datasetId => $ds } });
	is($st, 200, "dataset $ds created");
}
is(make_table('f1', 'driver_laps', \@old_fields, timePartitioning => { type => 'DAY', field => 'date_start' },
		clustering => { fields => [qw(session_key driver_number)] }), 200, 'driver_laps created with the 0.1 schema');
is(make_table('f1', 'race_control', \@rc_fields, timePartitioning => { type => 'DAY', field => 'date' }),
	200, 'race_control created with a column of the user\'s');

# the 0.1 row: the first lap of 9189 as 0.1 pushed it
my $lap = decode_json(slurp_file(data_dir() . '/9189/laps.json'))->[0];
my %old_row = ((map { $_ => $lap->{$_} } qw(session_key meeting_key driver_number lap_number date_start
	  lap_duration duration_sector_1 duration_sector_2 duration_sector_3 i1_speed i2_speed st_speed is_pit_out_lap)),
	version => 1, updated_at => $lap->{date_start}, deleted => JSON::PP::false);
my ($st, $res) = bq_call($bq, 'POST', "$api/datasets/f1/tables/driver_laps/insertAll",
	{ rows => [ { insertId => 'old-row', json => \%old_row } ] });
ok($st == 200 && !$res->{insertErrors}, 'the 0.1 row inserted') or diag explain $res;

# ---- 1. the upgrade ------------------------------------------------------------

my $node = new_node('upgrade', broker => $broker, conf => sink_conf($bq));
my %bq_type = ('integer' => 'INT64', 'bigint' => 'INT64', 'double precision' => 'FLOAT64',
	'boolean' => 'BOOL', 'text' => 'STRING', 'timestamp with time zone' => 'TIMESTAMP');
my %pg_type = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
	SELECT attname || '|' || format_type(atttypid, atttypmod) FROM pg_attribute
	 WHERE attrelid = 'f1tel.driver_laps'::regclass AND attnum > 0 AND NOT attisdropped});
# the endpoints of 9606 that f1tel reads, but location (no lap column comes
# from it), and car_data only once driver_laps has columns made from it
my @endpoints = grep { -e data_dir() . "/9606/$_.json" || -e data_dir() . "/9606/$_.json.gz" }
  grep { $_ ne 'location' && ($_ ne 'car_data' || exists $pg_type{max_speed}) } staging_tables();
note 'endpoints fed: ' . join(' ', @endpoints);

# every record of the files fed, stored or dead-lettered, for ingest_status
sub records_of
{
	my ($session) = @_;
	my $n = 0;
	foreach my $ep (@endpoints)
	{
		my $f = data_dir() . "/$session/$ep.json";
		my $text = -e $f ? slurp_file($f) : `gzip -dc '$f.gz'`;
		$n += scalar @{ decode_json($text) };
	}
	return $n;
}
my $records = records_of('9606');

sub wait_ingested
{
	my ($total) = @_;
	return $node->poll_query_until('postgres',
		"SELECT coalesce(sum(rows + dead_letters), 0) >= $total FROM f1tel.ingest_status");
}

is(run_feed($broker, sessions => ['9606'], endpoints => \@endpoints), 0, 'feed replayed 9606');
ok(wait_ingested($records), "$records records ingested");
ok(wait_for_sinks($node, 240), 'both sinks pushed every change');
is($node->safe_psql('postgres', q{SELECT string_agg(sink || ':' || state || ':' || coalesce(last_error, 'ok'), ' ' ORDER BY sink) FROM f1tel.sink_status}),
	'bigquery:active:ok kafka:active:ok', 'sink_status: no error standing');

# the schema: the 0.1 fields first, unchanged and in order, then f1tel's new
# ones in f1tel's order, NULLABLE; partitioning and clustering kept
my @want = map { [ split /\|/ ] } split /\n/, $node->safe_psql('postgres', q{
	SELECT field || '|' || type || '|' || mode FROM f1tel.bigquery_schema()
	 WHERE table_name = 'driver_laps' ORDER BY ordinal});
my $t = schema_of('f1', 'driver_laps');
my @got = @{ $t->{schema}{fields} };
my %same = (INT64 => 'INTEGER', FLOAT64 => 'FLOAT', BOOL => 'BOOLEAN');
is(scalar(@got), scalar(@want), scalar(@want) . ' fields in BigQuery\'s driver_laps, as many as f1tel writes');
is_deeply([ map { [ $_->{name}, $_->{type}, $_->{mode} ] } @got[ 0 .. $#old_fields ] ],
	[ map { [ $_->{name}, $same{ $_->{type} } // $_->{type}, $_->{mode} ] } @old_fields ],
	'the 0.1 fields first, unchanged (types, REQUIRED modes), in their order');
is_deeply([ map { [ $_->{name}, $_->{type}, $_->{mode} ] } @got[ scalar(@old_fields) .. $#got ] ],
	[ map { [ $_->[0], $same{ $_->[1] } // $_->[1], 'NULLABLE' ] } @want[ scalar(@old_fields) .. $#want ] ],
	'then the new fields, in f1tel\'s order, NULLABLE');
cmp_ok(scalar(@want) - scalar(@old_fields), '>=', 18, 'at least the 18 fields of 0.2 were added');
is_deeply([ $t->{timePartitioning}{field}, $t->{clustering}{fields} ], [ 'date_start', [qw(session_key driver_number)] ],
	'partitioning and clustering kept');
ok($node->log_contains(qr/f1tel sink: added \d+ columns to BigQuery table f1\.driver_laps/),
	'the log says the columns were added');
ok(!$node->log_contains(qr/added \d+ columns? to BigQuery table f1\.race_control/), 'race_control: nothing added');
is_deeply([ map { $_->{name} } @{ schema_of('f1', 'race_control')->{schema}{fields} } ],
	[ map { $_->{name} } @rc_fields ], 'race_control: its fields and the user\'s column kept');

my $rows = bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps');
my @old = grep { $_->{session_key} == 9189 } @$rows;
is(scalar(@old), 1, 'the 0.1 row is still there');
is_deeply([ map { $old[0]{$_} } qw(driver_number lap_number version st_speed) ],
	[ map { "$_" } @$lap{qw(driver_number lap_number)}, 1, $lap->{st_speed} ], '... with its values');
is(scalar(grep { defined $old[0]{ $_->[0] } } @want[ scalar(@old_fields) .. $#want ]), 0, '... and NULL in the new columns');

# every column both have, compared as its BigQuery type; the latest version
# of each lap of 9606 in BigQuery against f1tel.driver_laps
my @common = grep { $_->[0] ne 'deleted' && exists $pg_type{ $_->[0] } } @want;
my @absent = grep { $_->[0] ne 'deleted' && !exists $pg_type{ $_->[0] } } @want;
note scalar(@common) . ' columns compared; not in driver_laps yet: ' . (join(' ', map { $_->[0] } @absent) || 'none');
foreach my $c (@common)
{
	is($bq_type{ $pg_type{ $c->[0] } } // '?', $c->[1], "$c->[0]: $pg_type{$c->[0]} in PostgreSQL, $c->[1] in BigQuery");
}
my %pg_expr = (TIMESTAMP => 'round(extract(epoch FROM %s)::numeric, 3)', FLOAT64 => '%s::float8',
	INT64 => '%s::bigint', BOOL => '%s::bool', STRING => '%s::text');
my %bq_expr = (TIMESTAMP => "round((r->>'%s')::numeric, 3)", FLOAT64 => "(r->>'%s')::float8",
	INT64 => "(r->>'%s')::bigint", BOOL => "(r->>'%s')::bool", STRING => "r->>'%s'");
my $cols = join(', ', map { sprintf($pg_expr{ $_->[1] }, qq{"$_->[0]"}) } @common);
my $bqcols = join(', ', map { sprintf($bq_expr{ $_->[1] }, $_->[0]) } @common);
$node->safe_psql('postgres', 'CREATE TABLE bq_driver_laps (r jsonb)');
$node->safe_psql('postgres', "INSERT INTO bq_driver_laps SELECT value FROM jsonb_array_elements('"
	  . '[' . join(',', map { my $j = encode_json($_); $j =~ s/'/''/g; $j } @$rows) . ']' . "')");
my $latest = "SELECT DISTINCT ON ((r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int) $bqcols
	FROM bq_driver_laps WHERE (r->>'session_key')::int = 9606
	ORDER BY (r->>'session_key')::int, (r->>'driver_number')::int, (r->>'lap_number')::int, (r->>'version')::bigint DESC";
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.driver_laps'), '1179', 'driver_laps: 1179 laps');
is($node->safe_psql('postgres', "SELECT count(*) FROM (
	(SELECT $cols FROM f1tel.driver_laps EXCEPT ALL ($latest))
	UNION ALL
	(($latest) EXCEPT ALL SELECT $cols FROM f1tel.driver_laps)) d"), '0',
	'BigQuery driver_laps, latest version of each lap, equals f1tel.driver_laps on all ' . scalar(@common) . ' columns');
# a column BigQuery has and driver_laps not (yet): NULL in every pushed row
is($node->safe_psql('postgres', 'SELECT count(*) FROM bq_driver_laps WHERE '
	  . join(' OR ', 'false', map { "r->>'$_->[0]' IS NOT NULL" } @absent)), '0',
	'columns not in driver_laps are NULL in BigQuery (' . scalar(@absent) . ')');
# the new columns that driver_laps has carry values somewhere, when it has them
my @filled = grep { exists $pg_type{ $_->[0] } } @want[ scalar(@old_fields) .. $#want ];
if (@filled)
{
	my $with = $node->safe_psql('postgres', 'SELECT count(*) FROM bq_driver_laps WHERE '
		  . join(' OR ', map { "r->>'$_->[0]' IS NOT NULL" } @filled));
	cmp_ok($with, '>', 0, "$with BigQuery rows carry values in the new columns");
}
my $rc = bq_table_rows($bq, 'f1tel-test', 'f1', 'race_control');
is(scalar(@$rc), $node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.race_control'),
	'race_control: every row in BigQuery');
is(scalar(grep { defined $_->{note} } @$rc), 0, '... the user\'s column left NULL');
is($node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.sink_dead_letters'), '0', 'no sink dead letters');

# ---- 2. a column with another type: refused, nothing changed --------------------

my @conflict = map { { %$_ } } @old_fields;
push @conflict, { name => 'compound', type => 'INT64', mode => 'NULLABLE' };
is(make_table('f1c', 'driver_laps', \@conflict), 200, 'f1c.driver_laps created with compound INT64');
my $before = schema_of('f1c', 'driver_laps');
$node->append_conf('postgresql.conf', "f1tel.bigquery_dataset = 'f1c'\n");
$node->reload;
is(run_feed($broker, sessions => ['9606'], endpoints => \@endpoints, extra => [ '--session-key-offset', '100000' ]),
	0, 'feed replayed 9606 again as session 109606');
ok(wait_ingested(2 * $records), 'ingested');
ok($node->poll_query_until('postgres', q{SELECT state = 'paused' FROM f1tel.sink_status WHERE sink = 'bigquery'}),
	'the BigQuery sink is paused');
my $err = $node->safe_psql('postgres', q{SELECT last_error FROM f1tel.sink_status WHERE sink = 'bigquery'});
like($err, qr/table f1c\.driver_laps cannot take f1tel's rows: column compound is NULLABLE INTEGER in BigQuery, f1tel writes STRING/,
	'sink_status.last_error names the column, its type and f1tel\'s');
like($err, qr/never drops or retypes a column: drop or rename that column/, '... and says what to do');
ok($node->log_contains(qr/refused a request for good; pausing it: BigQuery: table f1c\.driver_laps cannot take/),
	'the log says so too');
ok($node->log_contains(qr/HINT:  Fix the cause, then reload/), '... with the hint');
my $after = schema_of('f1c', 'driver_laps');
is_deeply($after->{schema}, $before->{schema}, 'f1c.driver_laps: its schema unchanged');
is($after->{lastModifiedTime}, $before->{lastModifiedTime}, '... and the table not modified');
is(scalar(@{ bq_table_rows($bq, 'f1tel-test', 'f1c', 'driver_laps') }), 0, '... no row pushed');
($st) = bq_call($bq, 'GET', "$api/datasets/f1c/tables/race_control");
is($st, 404, 'nothing else created in f1c');
cmp_ok($node->safe_psql('postgres', q{SELECT pending FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}),
	'>=', 1179, 'the changes stay queued for BigQuery');
is($node->safe_psql('postgres', q{SELECT status FROM f1tel.change_backlog WHERE subscriber = 'bigquery'}),
	'paused', 'change_backlog: paused');
is(scalar(@{ bq_table_rows($bq, 'f1tel-test', 'f1', 'driver_laps') }), scalar(@$rows), 'f1.driver_laps untouched');

$node->stop;
stop_bigquery($bq);
stop_broker($broker);
done_testing();
