-- 05_privileges: who may do what (src/shared/footer.sql), and that every
-- function is safe from the caller's search_path.
--
-- The roles here are made up for the test (regress_*); f1tel_reader and
-- f1tel_admin are f1tel's own.  Real logins and a hostile database owner are
-- in test/t/090_security.pl.

-- every function binds its names at creation (a standard SQL body) or runs
-- with search_path = pg_catalog, pg_temp
SELECT p.oid::regprocedure AS unsafe_function
  FROM pg_proc p
 WHERE p.pronamespace = 'f1tel'::regnamespace
   AND p.prosqlbody IS NULL
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1;

-- nothing is EXECUTE to PUBLIC
SELECT p.oid::regprocedure AS public_function
  FROM pg_proc p
 WHERE p.pronamespace = 'f1tel'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;

-- the SECURITY DEFINER functions are exactly the operations of f1tel_admin
SELECT p.oid::regprocedure AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'f1tel'::regnamespace AND p.prosecdef
 ORDER BY 1;

-- the roles exist, cannot log in, and admin includes reader
SELECT rolname, rolcanlogin, rolsuper, pg_has_role('f1tel_admin', rolname, 'MEMBER') AS admin_has_it
  FROM pg_roles WHERE rolname IN ('f1tel_reader', 'f1tel_admin') ORDER BY 1;

CREATE ROLE regress_f1tel_nobody;
CREATE ROLE regress_f1tel_viewer IN ROLE f1tel_reader;
CREATE ROLE regress_f1tel_operator IN ROLE f1tel_admin;

-- what each may write, table by table: no one but superusers
SELECT r.rolname, c.relname,
       has_table_privilege(r.rolname, c.oid, 'SELECT') AS can_select,
       has_table_privilege(r.rolname, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS can_write
  FROM pg_class c
 CROSS JOIN (VALUES ('regress_f1tel_nobody'), ('regress_f1tel_viewer'), ('regress_f1tel_operator')) r(rolname)
 WHERE c.relnamespace = 'f1tel'::regnamespace AND c.relkind IN ('r', 'v')
   AND c.relname IN ('kafka_offsets', 'change_queue', 'changes', 'change_subscribers',
                     'sink_status', 'sink_dead_letters', 'laps', 'driver_laps', 'leaderboard')
 ORDER BY 1, 2;

-- the reader reads, the views too, and cannot call an operation
SET ROLE regress_f1tel_viewer;
SELECT count(*) >= 0 AS reads FROM f1tel.driver_laps;
SELECT count(*) >= 0 AS reads_views FROM f1tel.leaderboard, f1tel.ingest_status;
SELECT count(*) >= 0 AS reads_the_definition FROM f1tel.driver_laps_v;
SELECT f1tel.reset_offset('f1_laps', 0, 0);
SELECT f1tel.lock_drivers(ARRAY[9189], ARRAY[1]);
INSERT INTO f1tel.kafka_offsets (group_id, topic, partition) VALUES ('x', 'f1_laps', 0);
RESET ROLE;

-- someone outside both roles reaches nothing
SET ROLE regress_f1tel_nobody;
SELECT count(*) FROM f1tel.driver_laps;
SELECT f1tel.library_version() IS NOT NULL;
RESET ROLE;

-- the operator runs the operations, through them only
SET ROLE regress_f1tel_operator;
SELECT f1tel.reset_offset('f1_laps', 7, 42, 'regress_group');
SELECT next_offset FROM f1tel.kafka_offsets WHERE group_id = 'regress_group';
SELECT rows_stored, dead_letter FROM f1tel.ingest_message('f1_laps',
	'{"session_key":9189,"driver_number":1,"lap_number":1,"date_start":"2023-11-18T06:04:05Z"}');
UPDATE f1tel.kafka_offsets SET next_offset = 0 WHERE group_id = 'regress_group';
DELETE FROM f1tel.change_queue;
UPDATE f1tel.sink_status SET rows_pushed = 0;
SELECT f1tel.driver_laps_apply(ARRAY[]::f1tel.lap_range[], false);
RESET ROLE;

-- f1tel.replay_dead_letters(): a hand-written dead letter whose cause is
-- "gone" (simulated: the reason is made up) is stored when replayed; one that
-- is still bad comes back with a new id and today's reason
INSERT INTO f1tel.dead_letters (topic, partition, "offset", key, payload, reason) VALUES
 ('f1_laps', 0, 1, NULL, convert_to('{"session_key":9189,"driver_number":1,"lap_number":2,"date_start":"2023-11-18T06:05:40Z"}', 'UTF8'), 'simulated: fixed since'),
 ('f1_laps', 0, 2, NULL, convert_to('{"session_key":9189,"driver_number":1}', 'UTF8'), 'simulated: still bad');
SET ROLE regress_f1tel_operator;
SELECT * FROM f1tel.replay_dead_letters(ARRAY(SELECT id FROM f1tel.dead_letters WHERE reason LIKE 'simulated:%'));
RESET ROLE;
SELECT "offset", reason LIKE 'simulated:%' AS old_row, reason FROM f1tel.dead_letters WHERE topic = 'f1_laps' AND partition = 0 AND "offset" IN (1, 2);
SELECT lap_number FROM f1tel.laps WHERE session_key = 9189 AND driver_number = 1 AND lap_number IN (1, 2) ORDER BY 1;

-- the driver locks: not in the space applications use
BEGIN;
SELECT f1tel.lock_drivers(ARRAY[9189], ARRAY[44]);
SELECT count(*) AS locks_at_9189_44 FROM pg_locks
 WHERE locktype = 'advisory' AND classid = 9189 AND objid = 44 AND pid = pg_backend_pid();
SELECT count(*) AS f1tel_locks FROM pg_locks
 WHERE locktype = 'advisory' AND objsubid = 2 AND pid = pg_backend_pid()
   AND classid = (SELECT oid FROM pg_extension WHERE extname = 'f1tel');
ROLLBACK;

DELETE FROM f1tel.laps WHERE session_key = 9189 AND driver_number = 1 AND lap_number IN (1, 2);
DELETE FROM f1tel.dead_letters WHERE topic = 'f1_laps' AND partition = 0 AND "offset" IN (1, 2);
DELETE FROM f1tel.kafka_offsets WHERE group_id = 'regress_group';
DROP ROLE regress_f1tel_nobody, regress_f1tel_viewer, regress_f1tel_operator;
