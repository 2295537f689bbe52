# test/t/140_dash_browser.pl — the dashboard in a real browser: Debian's
# headless Chromium (test/dash/browser.mjs, playwright-core) on f1tel-dash
# while 9189 replays through Kafka into f1tel.
#
# The page, opened before the race, updates while the race replays with no
# reload (its updates counter grows, the tower changes, one navigation);
# at the end its tower has 20 rows with VER, LEC, PER on top, and the
# positions and speed trap charts have one series per driver with laps.  A
# race control message produced to Kafka shows within 1 s of the produce;
# a message "<img src=x onerror=alert(1)>" renders as that text (no element,
# no dialog); with the database stopped the page says "database
# unavailable", and after the restart the banner goes and a new message
# shows, without a reload.  The race control messages produced here are
# HAND-WRITTEN test cases (their text says so), added to the real 9189.
# The screenshot at the end of the replay is the README's
# (tmp_check/dashboard.png; also to $F1TEL_DASH_SCREENSHOT when set).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use F1telTest;
use DashLocal;
use File::Copy;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $broker = start_broker(partitions => 8);
my $node = new_node('dashb', broker => $broker);
my $dash = start_dash($node);
my $br = start_browser();

browser($br, 'open', url => $dash->{url} . '?session=9189');
is(browser($br, 'count', selector => '#tower')->{count}, 1, 'the page has its timing tower');

# the race at 100x (about 75 s); car_data is not on the page
my $feed = start_feed($broker, sessions => ['9189'], speed => 100,
	endpoints => [qw(sessions meetings drivers laps position race_control location weather stints pit)]);
my (%towers, @updates);
my $t0 = time();
while ($feed->{h}->pumpable && time() - $t0 < 400)
{
	$feed->{h}->pump_nb;
	my $t = browser($br, 'tower');
	$towers{ join(' ', map { "$_->{position}:$_->{driver_number}" } @{ $t->{rows} }) } = 1;
	push @updates, browser($br, 'updates')->{updates};
	usleep(1_000_000);
}
is(finish_feed($feed), 0, 'the feed replayed 9189 at 100x');
note sprintf('replay: %.0f s, %d samples, %d distinct towers, updates %d -> %d',
	time() - $t0, scalar @updates, scalar keys %towers, $updates[0] // 0, $updates[-1] // 0);
cmp_ok(scalar keys %towers, '>=', 10, 'the tower changed during the replay (' . scalar(keys %towers) . ' distinct orders)');
cmp_ok($updates[-1] - $updates[0], '>=', 50, "the page applied events live ($updates[0] -> $updates[-1])");
# The longest stretch without an update, from the first one on, is bounded
# loosely (under 20 s), not the share of seconds with one: that share with an update was 41 of 50, 20-28 of 63
# and, in one CI run, nothing for the first 26 s and then 10 s flat mid-race
# (README, Limits: stalls of the live view during a fast replay).  The
# liveness that is checked is the tower's changes above and the latency
# probes below (each message on the page within 1 s).
note 'updates by second: ' . join(' ', @updates);
my ($first) = grep { $updates[$_] > $updates[0] } 0 .. $#updates;
my ($gap, $run) = (0, 0);
foreach my $i (($first // $#updates) + 1 .. $#updates)
{
	$run = $updates[$i] > $updates[ $i - 1 ] ? 0 : $run + 1;
	$gap = $run if $run > $gap;
}
# a bound that a dead or wedged live path fails, twice the worst stall seen
cmp_ok($gap, '<', 20, "the longest stretch without an update after the first: $gap samples (~1 s each)");
is(browser($br, 'state')->{navigations}, 1, 'no reload: one navigation');

$node->poll_query_until('postgres',
	'SELECT (SELECT count(*) FROM f1tel.driver_laps) = 949 AND (SELECT count(*) FROM f1tel.race_control) = 73')
  or die 'the replay did not land';

# ---- the end of the race ----
my ($rows, $deadline) = ([], time() + 10);
do
{
	$rows = browser($br, 'tower')->{rows};
	usleep(200_000) unless @$rows == 20 && ($rows->[0]{acronym} // '') =~ /VER/;
} until (@$rows == 20 && ($rows->[0]{acronym} // '') =~ /VER/) || time() > $deadline;
is(scalar @$rows, 20, 'the tower has 20 rows');
my @top = map { ($_->{acronym} =~ /\b([A-Z]{3})\b/)[0] // '?' } @$rows[0 .. 2];
is("@top", 'VER LEC PER', 'its top three are VER, LEC, PER');
is(join(' ', map { $_->{position} } @$rows[0 .. 2]), '1 2 3', 'with data-position 1, 2, 3');
is(join(' ', map { $_->{driver_number} } @$rows[0 .. 2]), '1 16 11', 'and data-driver-number 1, 16, 11');
my $with_laps = $node->safe_psql('postgres',
	'SELECT count(DISTINCT driver_number) FROM f1tel.driver_laps WHERE session_key = 9189');
my $series = browser($br, 'series');
is($series->{positions}, $with_laps, "the positions chart has one series per driver ($with_laps)");
is($series->{speed_trap}, $with_laps, 'so has the speed trap chart');
is(browser($br, 'count', selector => '#race-control li')->{count}, 73, 'race control lists the 73 messages');
is(browser($br, 'count', selector => '#track-map circle.car')->{count},
	$node->safe_psql('postgres', 'SELECT count(DISTINCT driver_number) FROM f1tel.location'),
	'the track map has a car per driver with location data');
my $shot = "$PostgreSQL::Test::Utils::tmp_check/dashboard.png";
browser($br, 'screenshot', path => $shot);
ok(-s $shot > 50_000, "a screenshot of the replayed race ($shot)");
copy($shot, $ENV{F1TEL_DASH_SCREENSHOT}) if $ENV{F1TEL_DASH_SCREENSHOT};

# ---- a message through Kafka shows within a second ----
my $n = 0;
sub rc_record
{
	my ($message) = @_;
	$n++;
	return { session_key => 9189, meeting_key => 1225, date => sprintf('2023-11-19T07:5%d:00+00:00', $n),
		category => 'Other', flag => undef, scope => undef, sector => undef, lap_number => 50,
		driver_number => undef, message => $message };
}
my @lat;
foreach my $i (1 .. 3)
{
	my $msg = "TEST CASE (hand-written): LATENCY PROBE $i";
	# timed from the broker's acknowledgement (produce.py flushes before it
	# returns): the start-up of a Python producer is not the dashboard's
	produce_race_control($broker, rc_record($msg));
	my $t = time();
	my $w = browser($br, 'wait_text', selector => '#race-control li', text => $msg, timeout_ms => 5000);
	my $ms = (time() - $t) * 1000;
	push @lat, $ms;
	ok($w->{found}, sprintf('probe %d: produced to Kafka (acknowledged), on the page after %.0f ms', $i, $ms));
}
cmp_ok((sort { $b <=> $a } @lat)[0], '<', 1000, sprintf('each within 1 s of the produce (%s ms)',
	join(', ', map { sprintf('%.0f', $_) } @lat)));

# ---- a hostile message is text ----
my $xss = '<img src=x onerror=alert(1)>';
produce_race_control($broker, rc_record($xss));
ok(browser($br, 'wait_text', selector => '#race-control li', text => $xss, timeout_ms => 5000)->{found},
	'the <img onerror> message shows, as its text');
my $rc = browser($br, 'race_control');
my ($item) = grep { index($_->{text}, $xss) >= 0 } @{ $rc->{items} };
ok($item && $item->{imgs} == 0, 'no element was made of it');
is($rc->{imgs_in_page}, 0, 'no <img> anywhere in race control');
is_deeply(browser($br, 'state')->{dialogs}, [], 'no alert() ran');
is(scalar(@{ $rc->{items} }), 77, 'race control: 73 + 4 messages');
ok((grep { !defined $_->{date} || $_->{date} eq '' } @{ $rc->{items} }) == 0, 'every item has its data-date');
is($rc->{items}[0]{date} =~ /^2023-11-19T07:54/ ? 1 : 0, 1, 'newest first');

# ---- the database goes away and comes back ----
$node->stop('fast');
my $down = browser($br, 'wait_db_status', visible => JSON::PP::true, timeout_ms => 15000);
ok($down->{reached}, "with the database stopped the page says so (after $down->{elapsed_ms} ms)");
like(browser($br, 'db_status')->{text}, qr/database unavailable/, '"database unavailable"');
$node->start;
my $up = browser($br, 'wait_db_status', visible => JSON::PP::false, timeout_ms => 30000);
ok($up->{reached}, "after the restart the banner goes (after $up->{elapsed_ms} ms)");
my $msg = 'TEST CASE (hand-written): AFTER THE RESTART';
produce_race_control($broker, rc_record($msg));
my $w = browser($br, 'wait_text', selector => '#race-control li', text => $msg, timeout_ms => 60000);
ok($w->{found}, "and the page shows new messages again ($w->{elapsed_ms} ms after the produce)");
my $st = browser($br, 'state');
is($st->{navigations}, 1, 'all of it without a reload');
is_deeply([ grep { !/Failed to load resource|ERR_|EventSource/ } @{ $st->{errors} } ], [],
	'no script error on the page');
note 'console: ' . join(' | ', @{ $st->{errors} }) if @{ $st->{errors} };

stop_browser($br);
is(stop_dash($dash), 0, 'f1tel-dash stops with status 0');
# the broker too: one left running costs the tests after this one CPU
stop_broker($broker);
done_testing();
