# test/lib/F1telTest.pm — shared pieces of f1tel's TAP tests.
#
# Real parts only: a PostgreSQL::Test::Cluster with f1tel preloaded, the
# f1tel-broker program (librdkafka's mock cluster speaking the Kafka
# protocol) or, with F1TEL_TEST_KAFKA=kafka, a real Apache Kafka
# (test/kafka/kafka.sh), and f1tel-feed replaying the recorded sessions in
# test/data/openf1 (or $F1TEL_DATA).  Expected rows are computed by
# PostgreSQL itself from the JSON files (jsonb_populate_record), never by
# f1tel's decoder, so a decoding bug cannot hide behind itself.
package F1telTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(
  repo_root data_dir start_broker stop_broker broker_down broker_up broker_kind
  broker_controllable kafka_acl
  new_node new_plain_node run_feed start_feed finish_feed load_expected
  expected_counts table_counts wait_for_counts compare_with_files
  data_columns natural_key staging_tables default_topic_of message_upsert_sql raw_load_sql
  start_bigquery stop_bigquery bq_call bq_table_rows sink_conf wait_for_sinks
  ingest_totals BOTH_SESSIONS_TOTALS same_table_rows
);

# The endpoints and their natural keys, read from f1tel's one endpoint table
# (src/shared/endpoints.c) so that the tests never restate it: the names in
# id order, and the columns marked KEY...; race_control has none (an
# identical record is stored once).
our (@STAGING, %KEYS, %GAPS, %TOPIC_OF);
{
	my $src = do
	{
		local $/;
		open(my $fh, '<', dirname(__FILE__) . '/../../src/shared/endpoints.c')
		  or die "src/shared/endpoints.c: $!";
		<$fh>;
	};
	# one EP(F1E_..., "name", ...) line per endpoint
	@STAGING = $src =~ /^\s*EP\(F1E_\w+,\s*"(\w+)"/mg;
	%TOPIC_OF = $src =~ /^\s*EP\(F1E_\w+,\s*"(\w+)",\s*"([^"]+)"/mg;
	while ($src =~ /static const F1Column (\w+)_columns\[\] = \{(.*?)\};/sg)
	{
		my ($ep, $cols) = ($1, $2);
		my @key = $cols =~ /KEY\w+\("(\w+)"/g;
		$KEYS{$ep} = @key ? \@key : undef;
		# gap fields: one JSON field, up to three columns (seconds, _laps, _q)
		$GAPS{$ep} = { map { $_ => 1 } $cols =~ /GAP\("(\w+)"/g };
	}
	die 'no endpoints found in src/shared/endpoints.c' unless @STAGING && keys %KEYS == @STAGING;
}

sub staging_tables { return @STAGING }
# the default topic of each endpoint: { laps => 'f1_laps', ... }
sub default_topic_of { return {%TOPIC_OF} }
sub natural_key    { return $KEYS{ $_[0] } }

sub repo_root { return abs_path(dirname(__FILE__) . '/../..') }

sub data_dir
{
	my $dir = $ENV{F1TEL_DATA} // repo_root() . '/test/data/openf1';
	BAIL_OUT("recorded sessions not found in $dir (set F1TEL_DATA)")
	  unless -d "$dir/9189";
	return abs_path($dir);
}

# ---- the broker ----------------------------------------------------------

# F1TEL_TEST_KAFKA selects the broker: "mock" (the default) is the embedded
# f1tel-broker; "kafka" is a real single-node Apache Kafka (KRaft) started by
# test/kafka/kafka.sh in tmp_check, with the f1tel topics created up front and
# other topics auto-created, $opt{partitions} partitions each.  Both give the
# same hash: {port}, {partitions}, {log}; broker_down/broker_up take the
# broker away and back with its data (the mock: SIGUSR1/SIGUSR2; Kafka: a
# clean stop and a restart on the same port, so clients see refused
# connections rather than a hung socket).
#
# F1TEL_TEST_BROKERS=host:port[,host:port...] instead points the tests at an
# existing cluster (PLAINTEXT) that they may wipe: broker_kind() is then
# "external", each start_broker deletes and re-creates the f1tel topics
# (test/lib/reset_topics.py; replication factor F1TEL_TEST_REPLICATION,
# default 1), and broker_controllable() is false — the steps that stop the
# broker are skipped, saying so.
sub broker_kind
{
	return 'external' if $ENV{F1TEL_TEST_BROKERS};
	my $kind = $ENV{F1TEL_TEST_KAFKA} // 'mock';
	BAIL_OUT("F1TEL_TEST_KAFKA must be mock or kafka, not \"$kind\"")
	  unless $kind eq 'mock' || $kind eq 'kafka';
	return $kind;
}

# true when the test owns the broker's processes (broker_down/broker_up work)
sub broker_controllable
{
	my ($b) = @_;
	return !$b->{external};
}

# The topics a test cluster starts with, from their one home,
# test/kafka/kafka.sh's DEFAULT_TOPICS, those in its COMPACTED as
# "name=compact" (test/lib/reset_topics.py's notation)
sub default_topics
{
	my $sh = slurp_file(repo_root() . '/test/kafka/kafka.sh');
	my ($all) = $sh =~ /^DEFAULT_TOPICS=(\S+)$/m;
	my ($compacted) = $sh =~ /^COMPACTED=(\S*)$/m;
	BAIL_OUT('DEFAULT_TOPICS or COMPACTED not found in test/kafka/kafka.sh')
	  unless defined $all && defined $compacted;
	my %c = map { $_ => 1 } split /,/, $compacted;
	return map { $c{$_} ? "$_=compact" : $_ } split /,/, $all;
}

my @started_kafka;

sub kafka_sh
{
	my ($what, $dir, @args) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ repo_root() . '/test/kafka/kafka.sh', $what, '--dir', $dir, @args ],
		'>', \$out, '2>', \$err);
	return ($ok, $out, $err);
}

sub start_broker
{
	my (%opt) = @_;
	my $partitions = $opt{partitions} // 4;
	if (broker_kind() eq 'external')
	{
		my $brokers = $ENV{F1TEL_TEST_BROKERS};
		my $rf = $ENV{F1TEL_TEST_REPLICATION} // 1;
		my ($out, $err) = ('', '');
		IPC::Run::run([ '/usr/bin/python3', repo_root() . '/test/lib/reset_topics.py',
			$brokers, $partitions, $rf, default_topics() ], '>', \$out, '2>', \$err)
		  or BAIL_OUT("could not reset the topics of $brokers: $err");
		note "existing cluster $brokers: f1tel topics re-created, $partitions partitions each";
		return { brokers => $brokers, partitions => $partitions, external => 1,
			log => '/dev/null' };
	}
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	if (broker_kind() eq 'kafka')
	{
		my $dir = "$PostgreSQL::Test::Utils::tmp_check/kafka_$port";
		my $t0 = time();
		# $opt{topics}: the topics to create first (a comma list; default:
		# kafka.sh's); $opt{broker_config}: more server.properties (k=v,...);
		# $opt{security}: kafka.sh start --security
		my ($ok, $out, $err) =
		  kafka_sh('start', $dir, '--port', $port, '--partitions', $partitions,
			defined $opt{topics} ? ('--topics', $opt{topics}) : (),
			$opt{broker_config} ? ('--broker-config', $opt{broker_config}) : (),
			$opt{security} ? ('--security', $opt{security}) : ());
		BAIL_OUT("Apache Kafka did not start: $err") unless $ok;
		push @started_kafka, $dir;
		note sprintf("Apache Kafka on port %d with %d partitions per topic (started in %.1f s)",
			$port, $partitions, time() - $t0);
		# security => 'sasl_ssl': the client settings are in {security_dir}
		# (kafka.sh's header), the ACLs changed with kafka_acl()
		return { port => $port, brokers => "127.0.0.1:$port", partitions => $partitions,
			kafka_dir => $dir, log => "$dir/node1/server.log",
			$opt{security} ? (security_dir => "$dir/security") : () };
	}
	my ($out, $err) = ('', '');
	my $log = "$PostgreSQL::Test::Utils::tmp_check/broker_$port.log";
	my $h = IPC::Run::start([ 'f1tel-broker', '--port', $port, '--partitions', $partitions ],
		'>', \$out, '2>', $log);
	my $deadline = time() + 30;
	while ($out !~ /ready/ && time() < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	BAIL_OUT("f1tel-broker did not start: see $log") unless $out =~ /ready/;
	note "f1tel-broker on port $port with $partitions partitions per topic";
	return { port => $port, brokers => "127.0.0.1:$port", h => $h, partitions => $partitions,
		log => $log };
}

# kafka_acl($broker, AclCommand arguments...): ACLs of a secured Kafka.
sub kafka_acl
{
	my ($b, @args) = @_;
	my ($ok, $out, $err) = kafka_sh('acl', $b->{kafka_dir}, @args);
	BAIL_OUT("kafka.sh acl: $err") unless $ok;
	return $out;
}

sub stop_broker
{
	my ($b) = @_;
	return if $b->{external};
	if ($b->{kafka_dir})
	{
		my ($ok, $out, $err) = kafka_sh('stop', $b->{kafka_dir});
		diag("kafka.sh stop: $err") unless $ok;
		@started_kafka = grep { $_ ne $b->{kafka_dir} } @started_kafka;
		return;
	}
	$b->{h}->signal('TERM');
	$b->{h}->finish;
}

sub broker_down
{
	my ($b) = @_;
	BAIL_OUT('broker_down on a cluster the test does not own') if $b->{external};
	return $b->{h}->signal('USR1') unless $b->{kafka_dir};
	my ($ok, $out, $err) = kafka_sh('down', $b->{kafka_dir});
	BAIL_OUT("kafka.sh down: $err") unless $ok;
}

sub broker_up
{
	my ($b) = @_;
	BAIL_OUT('broker_up on a cluster the test does not own') if $b->{external};
	return $b->{h}->signal('USR2') unless $b->{kafka_dir};
	my ($ok, $out, $err) = kafka_sh('up', $b->{kafka_dir});
	BAIL_OUT("kafka.sh up: $err") unless $ok;
}

# a test that dies leaves no Kafka behind (the nodes run in their own session)
END
{
	local $?;
	kafka_sh('stop', $_) foreach @started_kafka;
}

# ---- PostgreSQL ----------------------------------------------------------

# A started node with f1tel preloaded and the extension created in "postgres".
# $opt{install_path}: a PostgreSQL installation other than the one on the PATH
# (test/t/070_upgrade.pl: one holding an older f1tel); $opt{version}: CREATE
# EXTENSION … VERSION.
sub new_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		$opt{install_path} ? (install_path => $opt{install_path}) : ());
	my $workers = $opt{workers} // 1;
	$node->init;
	$node->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.brokers = '$opt{broker}->{brokers}'
f1tel.group_id = '@{[ $opt{group} // 'f1tel-test' ]}'
f1tel.ingest_workers = $workers
# the mock broker's rebalances stall session.timeout.ms - 1 s, and it does not
# wake an idle fetch: short timeouts keep the tests quick
f1tel.kafka_config = 'session.timeout.ms=6000, heartbeat.interval.ms=1000, reconnect.backoff.max.ms=1000, fetch.wait.max.ms=10'
max_worker_processes = 16
# kill -9 of a worker makes the postmaster restart everything, as in production
restart_after_crash = on
# no sink unless a test asks for one (sink_conf)
f1tel.enriched_topic = ''
log_min_messages = info
@{[ $opt{conf} // '' ]}
EOF
	$node->start;
	$node->safe_psql('postgres',
		'CREATE EXTENSION f1tel' . ($opt{version} ? " VERSION '$opt{version}'" : ''));
	return $node;
}

# A started node with f1tel preloaded and the extension created in "postgres",
# but no ingest worker and no sink (f1tel.enriched_topic = ''): for tests
# that write the staging tables themselves.  $opt{conf}: more settings.
sub new_plain_node
{
	my ($name, %opt) = @_;

	# PGXS's installcheck sets PG_REGRESS (Cluster->init needs it); prove by hand does not
	if (!$ENV{PG_REGRESS})
	{
		chomp(my $pgxs = `pg_config --pgxs`);
		$ENV{PG_REGRESS} = dirname($pgxs) . '/../test/regress/pg_regress';
	}
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'f1tel'
f1tel.database = 'postgres'
f1tel.ingest_workers = 0
f1tel.enriched_topic = ''
@{[ $opt{conf} // '' ]}
EOF
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION f1tel');
	return $node;
}

# ---- messages written by hand (test/t/020_*, 021_*) ------------------------

# The fields of the messages of the topics the enrichment reads, as the tests
# that write the staging tables themselves send them (message_upsert_sql).
sub message_columns
{
	return {
		laps => [
			qw(session_key driver_number lap_number meeting_key date_start lap_duration
			  duration_sector_1 duration_sector_2 duration_sector_3 i1_speed i2_speed
			  st_speed is_pit_out_lap segments_sector_1 segments_sector_2 segments_sector_3)
		],
		position => [qw(session_key driver_number date meeting_key position)],
		drivers => [
			qw(session_key driver_number meeting_key broadcast_name full_name name_acronym
			  team_name team_colour first_name last_name headshot_url country_code)
		],
		race_control => [
			qw(session_key date meeting_key driver_number lap_number sector category flag
			  scope message)
		],
		stints => [
			qw(session_key driver_number stint_number meeting_key lap_start lap_end compound
			  tyre_age_at_start)
		],
		pit => [
			qw(session_key driver_number lap_number meeting_key date pit_duration lane_duration
			  stop_duration)
		],
		# gap fields typed: the payload holds gap_to_leader_laps etc. itself
		intervals => [
			qw(session_key driver_number date meeting_key gap_to_leader gap_to_leader_laps
			  interval interval_laps)
		],
		weather => [
			qw(session_key date meeting_key air_temperature track_temperature humidity pressure
			  rainfall wind_direction wind_speed)
		],
		car_data => [qw(session_key driver_number date meeting_key rpm speed n_gear throttle brake drs)],
	};
}

# The statement (no ';') that writes the messages of topic $t among those of
# enrich_test.msgs (id, topic, key, payload) numbered p_ids as the ingest
# worker writes a batch (src/ingest/store.c): one upsert, the last message of
# a key winning; race_control, which has no natural key, inserted in order.
sub message_upsert_sql
{
	my ($t) = @_;
	my @c = @{ message_columns()->{$t} };
	my $cols = join(', ', @c);
	my $rcols = join(', ', map { "r.$_" } @c);
	my $key = $KEYS{$t};
	if ($key)
	{
		my %is_key = map { $_ => 1 } @$key;
		my @nk = grep { !$is_key{$_} } @c;
		return "INSERT INTO f1tel.$t AS t ($cols, src_topic, src_partition, src_offset)"
		  . " SELECT $rcols, 'f1_$t', 0, b.id"
		  . " FROM (SELECT DISTINCT ON (m.key) m.id, m.payload"
		  . "   FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)"
		  . "   JOIN enrich_test.msgs m ON m.id = u.id"
		  . "  WHERE m.topic = '$t' ORDER BY m.key, u.ord DESC) b"
		  . " CROSS JOIN LATERAL jsonb_populate_record(NULL::f1tel.$t, b.payload) r"
		  . " ON CONFLICT (" . join(', ', @$key) . ") DO UPDATE SET "
		  . join(', ', map { "$_ = EXCLUDED.$_" } @nk)
		  . ", src_topic = EXCLUDED.src_topic, src_partition = EXCLUDED.src_partition,"
		  . " src_offset = EXCLUDED.src_offset, ingested_at = now()"
		  . " WHERE (" . join(', ', map { "t.$_" } @nk) . ") IS DISTINCT FROM ("
		  . join(', ', map { "EXCLUDED.$_" } @nk) . ")";
	}
	return "INSERT INTO f1tel.$t ($cols, src_topic, src_partition, src_offset)"
	  . " SELECT $rcols, 'f1_$t', 0, m.id"
	  . " FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)"
	  . " JOIN enrich_test.msgs m ON m.id = u.id"
	  . " CROSS JOIN LATERAL jsonb_populate_record(NULL::f1tel.$t, m.payload) r"
	  . " WHERE m.topic = '$t' ORDER BY u.ord"
	  . " ON CONFLICT ON CONSTRAINT race_control_record_key DO NOTHING";
}

# SQL that creates enrich_test.raw (topic, j jsonb, ord) and loads into it,
# one row per record, the files $data/<session>/<topic>.json of the sessions
# and topics given, in that order.
sub raw_load_sql
{
	my ($data, $sessions, $topics) = @_;
	my $sql = q{
CREATE SCHEMA enrich_test;
CREATE TABLE enrich_test.raw (topic text, j jsonb, ord bigserial);
};
	foreach my $s (@$sessions)
	{
		foreach my $t (@$topics)
		{
			$sql .= "INSERT INTO enrich_test.raw (topic, j) SELECT '$t', j"
			  . " FROM jsonb_array_elements(pg_read_file('$data/$s/$t.json')::jsonb) j;\n";
		}
	}
	return $sql;
}

# ---- the feed ------------------------------------------------------------

sub feed_command
{
	my ($broker, %opt) = @_;
	my @cmd = ('f1tel-feed', '--brokers', "$broker->{brokers}",
		'--speed', $opt{speed} // 'max', '--quiet');
	push @cmd, '--endpoints', join(',', @{ $opt{endpoints} }) if $opt{endpoints};
	push @cmd, @{ $opt{extra} } if $opt{extra};
	push @cmd, map { data_dir() . "/$_" } @{ $opt{sessions} };
	return @cmd;
}

# Replay sessions and wait for the feed; returns its exit code.
sub run_feed
{
	my ($broker, %opt) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ feed_command($broker, %opt) ], '>', \$out, '2>', \$err);
	note "f1tel-feed: $err" if $err;
	return $? >> 8;
}

sub start_feed
{
	my ($broker, %opt) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ feed_command($broker, %opt) ], '>', \$out, '2>', \$err);
	return { h => $h, err => \$err };
}

sub finish_feed
{
	my ($f) = @_;
	$f->{h}->finish;
	note "f1tel-feed: ${ $f->{err} }" if ${ $f->{err} };
	return $? >> 8;
}

# ---- expected rows, from the files -----------------------------------------

# Load the recorded records of the sessions into f1tel_test.raw and build one
# view per endpoint with the rows expected after the natural-key merge.  The
# endpoints default to those whose table the node's f1tel has (an older
# release has fewer); expected_counts() then counts the same ones.
my %expected_endpoints;

# A record as the decoder types it: a gap field's number stays, its
# "+N LAP(S)" goes to <field>_laps and its array of three to <field>_q
# (src/shared/endpoints.h, F1T_GAP), so jsonb_populate_record can read it.
sub typed_record_sql
{
	my ($ep) = @_;
	my @gaps = sort keys %{ $GAPS{$ep} // {} };
	return 'r' unless @gaps;
	return 'r || jsonb_build_object(' . join(', ', map {
		"'$_', CASE WHEN jsonb_typeof(r->'$_') = 'number' THEN r->'$_' END, "
		  . "'${_}_laps', to_jsonb(substring(CASE WHEN jsonb_typeof(r->'$_') = 'string' THEN r->>'$_' END"
		  . " from '^\\+([0-9]+) LAPS?\$')::int), "
		  . "'${_}_q', CASE WHEN jsonb_typeof(r->'$_') = 'array' THEN r->'$_' END"
	} @gaps) . ')';
}

sub load_expected
{
	my ($node, $sessions, $endpoints) = @_;
	$endpoints //= [
		grep {
			$node->safe_psql('postgres', "SELECT to_regclass('f1tel.$_') IS NOT NULL") eq 't'
		} @STAGING
	];
	$expected_endpoints{ $node->name } = $endpoints;
	my $lines = repo_root() . '/test/lib/json_lines.py';
	$node->safe_psql('postgres', q{
		CREATE SCHEMA IF NOT EXISTS f1tel_test;
		DROP TABLE IF EXISTS f1tel_test.raw CASCADE;
		CREATE TABLE f1tel_test.raw (endpoint text, ord bigserial, r jsonb);
	});
	foreach my $s (@$sessions)
	{
		foreach my $ep (@$endpoints)
		{
			my ($file) = grep { -f $_ } map { data_dir() . "/$s/$ep$_" } ('.json', '.json.gz');
			next unless $file;
			$node->safe_psql('postgres', qq{
				CREATE TEMP TABLE l (r jsonb);
				COPY l FROM PROGRAM '/usr/bin/python3 $lines $file'
				  WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02');
				INSERT INTO f1tel_test.raw (endpoint, r) SELECT '$ep', r FROM l;
			});
		}
	}
	foreach my $ep (@$endpoints)
	{
		my $cols = join(', ', data_columns($node, $ep));
		my $key = $KEYS{$ep};
		my $rec = typed_record_sql($ep);
		my $sql;
		if ($key)
		{
			my $k = join(', ', @$key);
			my $notnull = join(' AND ', map { "$_ IS NOT NULL" } @$key);
			$sql = "SELECT DISTINCT ON ($k) $cols FROM (SELECT x.*, ord FROM f1tel_test.raw,"
			  . " jsonb_populate_record(NULL::f1tel.$ep, $rec) x WHERE endpoint = '$ep') s"
			  . " WHERE $notnull ORDER BY $k, ord DESC";
		}
		else
		{
			$sql = "SELECT DISTINCT $cols FROM f1tel_test.raw,"
			  . " jsonb_populate_record(NULL::f1tel.$ep, $rec) x WHERE endpoint = '$ep'";
		}
		$node->safe_psql('postgres', "CREATE VIEW f1tel_test.expected_$ep AS $sql");
	}
	return;
}

# The columns of a staging table that come from the API (no provenance).
sub data_columns
{
	my ($node, $table) = @_;
	my $cols = $node->safe_psql('postgres', qq{
		SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position)
		FROM information_schema.columns
		WHERE table_schema = 'f1tel' AND table_name = '$table'
		  AND column_name NOT IN ('src_topic', 'src_partition', 'src_offset', 'ingested_at', 'id')});
	return split /,/, $cols;
}

sub expected_counts
{
	my ($node, $endpoints) = @_;
	my %c;
	$c{$_} = $node->safe_psql('postgres', "SELECT count(*) FROM f1tel_test.expected_$_")
	  foreach @{ $endpoints // $expected_endpoints{ $node->name } // \@STAGING };
	return \%c;
}

# Per topic, the rows stored and the dead letters that ingest_status counts:
# "topic=rows+dead ..." in topic order.
sub ingest_totals
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(topic || '=' || rows || '+' || dead_letters, ' ' ORDER BY topic)
		FROM (SELECT topic, sum(rows) AS rows, sum(dead_letters) AS dead_letters
		      FROM f1tel.ingest_status GROUP BY topic) s});
}

# ingest_totals() after 9189 and 9606 were each ingested once: every record
# of the files, the 105 car_data records of 9606 without a date dead letters;
# the recordings have no intervals, team_radio or championship records
use constant BOTH_SESSIONS_TOTALS => join(' ',
	'f1-race_control=134+0', 'f1_car_data=597032+105', 'f1_championship_drivers=0+0',
	'f1_championship_teams=0+0', 'f1_drivers=40+0', 'f1_intervals=0+0', 'f1_laps=2128+0',
	'f1_location=185616+0', 'f1_meetings=2+0', 'f1_overtakes=557+0', 'f1_pit=54+0',
	'f1_position=944+0', 'f1_session_result=40+0', 'f1_sessions=2+0',
	'f1_starting_grid=40+0', 'f1_stints=94+0', 'f1_team_radio=0+0', 'f1_weather=268+0');

sub table_counts
{
	my ($node, $tables) = @_;
	my %c;
	$c{$_} = $node->safe_psql('postgres', "SELECT count(*) FROM f1tel.$_")
	  foreach @{ $tables // \@STAGING };
	return \%c;
}

# Wait until every table has its expected count; returns true if reached.
sub wait_for_counts
{
	my ($node, $expected, $timeout) = @_;
	my $deadline = time() + ($timeout // 180);
	my $got;
	while (time() < $deadline)
	{
		$got = table_counts($node, [ keys %$expected ]);
		return 1 unless grep { $got->{$_} != $expected->{$_} } keys %$expected;
		usleep(250_000);
	}
	diag "timed out: " . join(', ', map { "$_ $got->{$_}/$expected->{$_}" } sort keys %$expected);
	return 0;
}

# Field by field: rows missing from the table and rows it has that the files
# do not, for one endpoint.
sub compare_with_files
{
	my ($node, $ep) = @_;
	my $cols = join(', ', data_columns($node, $ep));
	my $missing = $node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT $cols FROM f1tel_test.expected_$ep EXCEPT ALL SELECT $cols FROM f1tel.$ep) d");
	my $extra = $node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT $cols FROM f1tel.$ep EXCEPT ALL SELECT $cols FROM f1tel_test.expected_$ep) d");
	return ($missing, $extra);
}

# ---- the local BigQuery server (test/bigquery/server.py) -------------------

sub start_bigquery
{
	my (%opt) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my ($out, $err) = ('', '');
	my $log = "$PostgreSQL::Test::Utils::tmp_check/bigquery_$port.log";
	# the test's own calls use a static token, whatever the sink must do
	my @cmd = ('/usr/bin/python3', repo_root() . '/test/bigquery/server.py', '--port', $port,
		'--static-token', 'f1tel-test-token', @{ $opt{args} // [] });
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', $log);
	my $deadline = time() + 30;
	while ($out !~ /ready/ && time() < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	BAIL_OUT("the local BigQuery server did not start: see $log") unless $out =~ /ready/;
	note "local BigQuery server on port $port";
	return { port => $port, h => $h, url => "http://127.0.0.1:$port", log => $log };
}

sub stop_bigquery
{
	my ($bq) = @_;
	$bq->{h}->signal('TERM');
	$bq->{h}->finish;
}

# A request to the local server; returns (status, decoded body or undef).
sub bq_call
{
	my ($bq, $method, $path, $body) = @_;
	my %headers = (Authorization => 'Bearer f1tel-test-token');
	$headers{'Content-Type'} = 'application/json' if defined $body;
	my $res = HTTP::Tiny->new(timeout => 30)->request($method, "$bq->{url}$path",
		{ headers => \%headers, defined $body ? (content => encode_json($body)) : () });
	my $json = eval { decode_json($res->{content}) };
	return ($res->{status}, $json);
}

# Every row of a BigQuery table as a hash of field => string value (tabledata.list).
sub bq_table_rows
{
	my ($bq, $project, $dataset, $table) = @_;
	my ($st, $meta) = bq_call($bq, 'GET', "/bigquery/v2/projects/$project/datasets/$dataset/tables/$table");
	die "tables.get $table: $st" unless $st == 200;
	my @names = map { $_->{name} } @{ $meta->{schema}{fields} };
	my @rows;
	my $token;
	do
	{
		my $q = "?maxResults=10000" . (defined $token ? "&pageToken=$token" : '');
		my ($s, $page) = bq_call($bq, 'GET', "/bigquery/v2/projects/$project/datasets/$dataset/tables/$table/data$q");
		die "tabledata.list $table: $s" unless $s == 200;
		foreach my $r (@{ $page->{rows} // [] })
		{
			my %h;
			@h{@names} = map { $_->{v} } @{ $r->{f} };
			push @rows, \%h;
		}
		$token = $page->{pageToken};
	} while (defined $token);
	return \@rows;
}

# postgresql.conf lines pointing the sink at the local server
sub sink_conf
{
	my ($bq, %opt) = @_;
	return "f1tel.enriched_topic = 'f1-laps-enriched'\n"
	  . "f1tel.bigquery_project = 'f1tel-test'\n"
	  . "f1tel.bigquery_dataset = 'f1'\n"
	  . "f1tel.bigquery_endpoint = '$bq->{url}'\n"
	  . "f1tel.bigquery_credentials = '" . ($opt{credentials} // 'none') . "'\n"
	  . "f1tel.bigquery_timeout_ms = " . ($opt{timeout_ms} // 5000) . "\n";
}

# The rows of f1tel.$table on two nodes are the same multiset, compared as
# text in $order, leaving out the columns named in $skip (a quoted SQL list,
# e.g. "'ingested_at'"): one ok() named "$table: $label (N rows)".
sub same_table_rows
{
	my ($node_a, $node_b, $table, $order, $skip, $label) = @_;
	my $rows = sub {
		my ($node) = @_;
		my $cols = $node->safe_psql('postgres', qq{
			SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
			 WHERE attrelid = 'f1tel.$table'::regclass AND attnum > 0 AND NOT attisdropped
			   AND attname NOT IN ($skip)});
		return split /\n/, $node->safe_psql('postgres', "SELECT $cols FROM f1tel.$table ORDER BY $order");
	};
	my @a = $rows->($node_a);
	my @b = $rows->($node_b);
	my %inc;
	$inc{$_}++ foreach @b;
	$inc{$_}-- foreach @a;
	my @diff = grep { $inc{$_} } keys %inc;
	return ok(@a == @b && !@diff, "$table: $label (" . scalar(@a) . ' rows)')
	  || diag "$table: " . scalar(@a) . ' rows vs ' . scalar(@b) . ', differing e.g. '
	  . join(' / ', (sort @diff)[ 0 .. ($#diff < 2 ? $#diff : 2) ]);
}

# ---- Apache Kafka only: python3-confluent-kafka against the broker ---------

push @EXPORT, qw(kafka_python);

# Runs the Python code $code with /usr/bin/python3 (confluent_kafka 1.7.0),
# after a prelude that defines BOOTSTRAP, admin (an AdminClient) and
# policy(topic) (its cleanup.policy); returns (exit code, stdout, stderr).
sub kafka_python
{
	my ($broker, $code) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', '-c', <<"EOF" . $code ], '>', \$out, '2>', \$err);
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
BOOTSTRAP = "127.0.0.1:$broker->{port}"
admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
def policy(topic):
    r = ConfigResource("topic", topic)
    return admin.describe_configs([r])[r].result(timeout=30)["cleanup.policy"].value
EOF
	return ($? >> 8, $out, $err);
}

# Wait until no sink has a change queued.
sub wait_for_sinks
{
	my ($node, $timeout) = @_;
	my $deadline = time() + ($timeout // 180);
	while (time() < $deadline)
	{
		my $left = $node->safe_psql('postgres',
			'SELECT coalesce(sum(pending), 0) FROM f1tel.change_backlog');
		my $subs = $node->safe_psql('postgres', 'SELECT count(*) FROM f1tel.change_subscribers');
		return 1 if $left eq '0' && $subs > 0;
		usleep(250_000);
	}
	diag 'sinks still have changes queued: '
	  . $node->safe_psql('postgres', q{SELECT string_agg(subscriber || ' ' || pending, ', ') FROM f1tel.change_backlog});
	return 0;
}

1;
