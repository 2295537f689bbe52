#!/usr/bin/env python3
# sql/upgrade/sync_0.2.py — writes the issue-10 section of f1tel--0.1--0.2.sql
# from the source files (src/ingest/schema.sql, src/enrich/driver_laps.sql,
# src/enrich/triggers.sql, views.sql, race_views.sql), so that the upgrade step and a fresh install cannot
# drift apart: after changing those objects, run it from the repository root
# (python3 sql/upgrade/sync_0.2.py) and commit both.  It replaces its own
# section when run again.  test/t/070_upgrade.pl checks the result.
import re
up='sql/upgrade/f1tel--0.1--0.2.sql'
s=open(up).read()
schema=open('src/ingest/schema.sql').read()
dl=open('src/enrich/driver_laps.sql').read()
tr=open('src/enrich/triggers.sql').read()

def between(text, start, end):
    a=text.index(start); b=text.index(end, a)
    return text[a:b]

# 1. the new staging tables: from the intervals comment to the dead letters comment
tables=between(schema, '/*\n * The gap of each car to the leader', '/*\n * Messages that could not be stored')
names=re.findall(r'CREATE TABLE f1tel\.(\w+)', tables)
dumps=''.join("SELECT pg_catalog.pg_extension_config_dump('f1tel.%s', '');\n" % n for n in names)
# 2. driver_laps columns
tbl=between(dl, 'CREATE TABLE f1tel.driver_laps (', ');')
newcols=tbl[tbl.index('-- 0.2: after version'):].split('\n')[1:]
newcols=[c.strip().rstrip(',') for c in newcols if c.strip() and not c.strip().startswith('PRIMARY')]
alters=''.join('ALTER TABLE f1tel.driver_laps ADD COLUMN %s;\n' % c for c in newcols)
# 3. compute + view + drift (with comments)
compute=between(dl, '/*\n * The join, for the laps p_lap_from..p_lap_to', '/*\n * The enriched laps, kept equal')
drift=between(dl, '/*\n * The difference between driver_laps and its definition', '\x00') if False else dl[dl.index('/*\n * The difference between driver_laps and its definition'):]
# 4. apply and the sync functions
apply_=between(tr, '/*\n * Recomputes the laps in p_ranges', '/*\n * Recomputes every driver_laps row')
apply_=apply_.replace('CREATE FUNCTION f1tel.driver_laps_apply', 'CREATE OR REPLACE FUNCTION f1tel.driver_laps_apply')
syncs=between(tr, '/*\n * position, intervals and weather:', 'CREATE FUNCTION f1tel.staging_truncated()')
do=between(tr, '/*\n * Every input of driver_laps gets the same four', 'CREATE TRIGGER change_feed_insert')
do=do.replace("""		SELECT * FROM (VALUES ('laps', 'laps_sync', ''),
							  ('drivers', 'drivers_sync', ''),
							  ('position',""","""		SELECT * FROM (VALUES ('position',""")
assert "('laps', 'laps_sync'" not in do
vw=open('src/enrich/views.sql').read()
# views over driver_laps.* : their column lists grow with the table
dlviews=''
for v in ('driver_laps_latest_session', 'fastest_laps'):
    d=between(vw, 'CREATE VIEW f1tel.%s AS' % v, ';\n')+';\n'
    dlviews+=d.replace('CREATE VIEW', 'CREATE OR REPLACE VIEW', 1)+'\n'
rv=open('src/enrich/race_views.sql').read()
race_views=rv[rv.index('*/\n')+3:].lstrip('\n')	# all but its header comment
tcomment=between(dl, "COMMENT ON TABLE f1tel.driver_laps IS", ";\n")+';\n'
locks=between(tr, '/*\n * The lock of a whole session:', '/*\n * Recomputes the laps in p_ranges')

section = '''/*
 * Every OpenF1 endpoint, and a driver_laps that knows the race (issue 10):
 * ten staging tables (src/ingest/schema.sql), the driver_laps columns of
 * tyres, pit stops, gaps, weather and telemetry (src/enrich/driver_laps.sql;
 * its join returns more columns, so the function and the views on it are
 * made again), and the triggers of the new inputs (src/enrich/triggers.sql;
 * position moves to the generic asof_sync).  Copied from those files by
 * sql/upgrade/sync_0.2.py: change them there, then run it.
 */
''' + tables + dumps + '\n' + alters + '''
DROP VIEW f1tel.driver_laps_drift;
DROP VIEW f1tel.driver_laps_v;
DROP FUNCTION f1tel.driver_laps_compute(integer, integer, bigint, bigint);
''' + compute.replace("-- position lookups by (session_key, driver_number, date) use the primary key of\n-- f1tel.position; the latest session is found by the start of its newest lap.\nCREATE INDEX laps_date_start_idx ON f1tel.laps (date_start, session_key);\n\n", "") + drift + '\n' + apply_ + '''DROP TRIGGER driver_laps_sync_insert ON f1tel.position;
DROP TRIGGER driver_laps_sync_update ON f1tel.position;
DROP TRIGGER driver_laps_sync_delete ON f1tel.position;
DROP TRIGGER driver_laps_sync_truncate ON f1tel.position;
DROP FUNCTION f1tel.position_sync();

''' + syncs + do + tcomment + '\n' + dlviews + '/* the race views (src/enrich/race_views.sql) */\n' + race_views + '\n'
BEGIN='/*\n * Every OpenF1 endpoint, and a driver_laps that knows the race (issue 10):'
if BEGIN in s:
    a=s.index(BEGIN); b=s.index('/*\n * Security (issue 9)')
    s=s[:a]+s[b:]
a=s.index('/*\n * Security (issue 9)')
s=s[:a]+section+s[a:]
# security section: the old compute block goes (issue 10's replaces it)
old_compute_start='CREATE OR REPLACE FUNCTION f1tel.driver_laps_compute(p_session_key integer,'
if old_compute_start in s:
    a=s.index(old_compute_start); b=s.index('END;\n', a)+len('END;\n')
    s=s[:a]+'-- f1tel.driver_laps_compute: made again above (issue 10), with its names bound\n'+s[b:]
# the old lock_drivers (2 args) -> drop + the new one
if 'CREATE OR REPLACE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[])' in s:
    a=s.index('/*\n * Takes the advisory locks of every distinct (session_key, driver_number),')
    b=s.index('$$;\n', s.index('CREATE OR REPLACE FUNCTION f1tel.lock_drivers('))+4
    s=s[:a]+'DROP FUNCTION f1tel.lock_drivers(integer[], integer[]);\n\n'+locks.rstrip('\n')+'\n'+s[b:]
else:
    # run again: refresh the lock functions written by an earlier run
    a=s.index('DROP FUNCTION f1tel.lock_drivers(integer[], integer[]);\n\n')
    b=s.index('$$;\n', s.index('CREATE FUNCTION f1tel.lock_drivers(', a))+4
    s=s[:a]+'DROP FUNCTION f1tel.lock_drivers(integer[], integer[]);\n\n'+locks.rstrip('\n')+'\n'+s[b:]
s=s.replace('ALTER FUNCTION f1tel.position_sync() SET search_path = pg_catalog, pg_temp;\n','')
REFRESH='''/*
 * Last (issue 10): the new driver_laps columns of the rows already there,
 * computed from what the tables hold (car_data, above all), each a new
 * version in the change feed so that the sinks push them.  Takes the locks
 * of every driver; its time grows with the laps and telemetry stored
 * (README, Upgrading).  Written by sql/upgrade/sync_0.2.py.
 */
SELECT f1tel.driver_laps_refresh();
'''
if REFRESH.split('\n')[1] in s:
    s=s[:s.index('/*\n'+REFRESH.split('\n')[1])]
s=s.rstrip('\n')+'\n\n'+REFRESH
open(up,'w').write(s)
print('ok', names)
