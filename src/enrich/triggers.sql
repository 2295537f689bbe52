/*
 * src/enrich/triggers.sql — keeps f1tel.driver_laps equal to the view
 * f1tel.driver_laps_v, whatever order laps, drivers and positions arrive in,
 * and records every real change in the change feed (changes.sql).
 *
 * How: statement-level AFTER triggers with transition tables on laps, drivers
 * and position (one per event, as PostgreSQL requires), plus TRUNCATE.  Each
 * computes from its transition tables which laps the statement can have
 * changed, recomputes exactly those with f1tel.driver_laps_compute() (the
 * view's own definition), upserts the rows that differ (IS DISTINCT FROM: a
 * recomputation that changes nothing writes and emits nothing), and deletes
 * rows whose lap is gone.  A batch of thousands of messages costs a handful of
 * statements, and the work grows with the laps it touches:
 *
 *   laps      lap n of a driver changed: rows n and n - 1 (the previous lap's
 *             lap_end may be this lap's date_start);
 *   drivers   a driver's metadata changed: all that driver's rows;
 *   position  a record at date p changed (inserted, updated or deleted): the
 *             driver's rows whose lap_end lies in [p, next record's date),
 *             found through driver_laps_lap_end_idx.  Those and only those
 *             can have chosen, or now choose, the record at p.
 *
 * Locking (why concurrent writers cannot leave driver_laps stale).  All rows
 * of driver (session_key, driver_number) depend only on laps, drivers and
 * position rows of that same key.  Every writer holds the advisory lock of
 * (session_key, driver_number) (f1tel.lock_drivers) for the keys it touches:
 * the ingest worker takes them, sorted, before its batch; the triggers take
 * them again (sorted; a no-op when already held, and the protection for
 * writers that did not) BEFORE reading anything, and read only in later
 * statements, which in READ COMMITTED get a fresh snapshot.  So of two
 * transactions touching the same driver, the second to get the lock sees
 * everything the first committed, and recomputes the rows its own changes
 * affect on top of it.  Without the lock, or reading in the statement that
 * waited for it (whose snapshot predates the other commit), each transaction
 * would recompute from a state lacking the other's uncommitted change -- say
 * one inserts lap n + 1 while the other inserts the position record that then
 * decides lap n -- and both commit a stale row: write skew.  This is why the
 * triggers refuse REPEATABLE READ and SERIALIZABLE (one snapshot for the whole
 * transaction).
 *
 * Position changes find their laps by the lap_end stored in driver_laps: that
 * is current because every laps change of the driver updated it under the
 * same lock.  A write that bypasses the triggers (session_replication_role =
 * replica, disabled triggers) breaks this; f1tel.driver_laps_drift shows it and
 * f1tel.driver_laps_refresh() repairs it.
 *
 * TRUNCATE of laps, drivers or position recomputes everything (a maintenance
 * operation: while ingest workers run it may end in a deadlock error, which
 * aborts one side and loses nothing).
 */

-- Laps lap_from..lap_to of one driver in one session (bigint bounds: see
-- f1tel.driver_laps_compute).
CREATE TYPE f1tel.lap_range AS (
	session_key			integer,
	driver_number		integer,
	lap_from			bigint,
	lap_to				bigint
);

/*
 * The advisory locks of the drivers live in a space of their own: the
 * two-key form, the first key being f1tel's extension OID in this database
 * (as an integer: OIDs above 2^31 wrap), the second a hash of (session_key,
 * driver_number).  So pg_advisory_lock(9189, 44) in some application locks
 * nothing of f1tel's; and two drivers sharing a hash only share a lock, which
 * costs concurrency, never correctness.  pg_locks shows a driver lock as
 * locktype 'advisory', classid = the extension's OID, objsubid 2.
 */
CREATE FUNCTION f1tel.lock_class()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT (e.oid::bigint - CASE WHEN e.oid::bigint >= 2147483648 THEN 4294967296 ELSE 0 END)::integer
		  FROM pg_catalog.pg_extension e
		 WHERE e.extname = 'f1tel');

CREATE FUNCTION f1tel.driver_lock_key(p_session_key integer, p_driver_number integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashint8((p_session_key::bigint << 32) | (p_driver_number::bigint & 4294967295));

/*
 * Takes the advisory locks of every distinct (session_key, driver_number),
 * in key order (no two writers can deadlock on them).  The caller must read
 * in a later statement.  A lock another transaction holds is waited for at
 * most f1tel.lock_wait_timeout (0: forever); then the error (SQLSTATE 55P03,
 * lock_not_available: the ingest worker retries the batch and shows the
 * error in f1tel.ingest_status) names the sessions that hold it.
 */
CREATE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_class		integer := f1tel.lock_class();
	v_old		text;
	v_holders	text;
	k			record;
BEGIN
	PERFORM f1tel.require_read_committed();
	FOR k IN
		SELECT DISTINCT f1tel.driver_lock_key(u.s, u.d) AS key, u.s, u.d
		  FROM unnest(p_session_keys, p_driver_numbers) AS u(s, d)
		 WHERE u.s IS NOT NULL AND u.d IS NOT NULL
		 ORDER BY 1, 2, 3
	LOOP
		CONTINUE WHEN pg_try_advisory_xact_lock(v_class, k.key);
		-- contended: wait, bounded (a subtransaction, on this path only)
		v_old := current_setting('lock_timeout');
		BEGIN
			PERFORM set_config('lock_timeout', current_setting('f1tel.lock_wait_timeout'), true);
			PERFORM pg_advisory_xact_lock(v_class, k.key);
			PERFORM set_config('lock_timeout', v_old, true);
		EXCEPTION WHEN lock_not_available THEN
			SELECT string_agg(format('pid %s (user %s, application "%s", %s since %s)',
									 a.pid, a.usename, a.application_name, a.state,
									 coalesce(a.xact_start, a.backend_start)),
							  ', ' ORDER BY a.pid)
			  INTO v_holders
			  FROM pg_locks l
			  JOIN pg_stat_activity a ON a.pid = l.pid
			 WHERE l.locktype = 'advisory'
			   AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
			   AND l.classid::bigint = (v_class::bigint & 4294967295)
			   AND l.objid::bigint = (k.key::bigint & 4294967295)
			   AND l.objsubid = 2
			   AND l.granted;
			-- the holder in the message itself: it is what f1tel.ingest_status shows
			RAISE EXCEPTION 'f1tel: waited % for the lock of session %, driver %, held by %',
				current_setting('f1tel.lock_wait_timeout'), k.s, k.d,
				coalesce(v_holders, 'a transaction that has ended since')
				USING ERRCODE = 'lock_not_available',
					  DETAIL = 'Every f1tel writer of a driver''s rows takes this lock; it is held until the holder''s transaction ends.',
					  HINT = 'Only f1tel takes these locks (pg_locks: locktype advisory, classid = the f1tel extension''s OID); end that transaction.  The ingest worker retries the batch.';
		END;
	END LOOP;
END
$$;

/*
 * Recomputes the laps in p_ranges (ranges may overlap: they are merged first),
 * writes the rows that differ, deletes the rows whose lap is gone when
 * p_deletions says laps may have been deleted, and records the changes in the
 * feed when there are subscribers.  Changed rows stream from one CTE to the
 * next, nothing is collected in memory.  Returns the number of rows written
 * or deleted.  The caller holds the advisory locks of the ranges' drivers.
 */
CREATE FUNCTION f1tel.driver_laps_apply(p_ranges f1tel.lap_range[], p_deletions boolean)
RETURNS bigint
LANGUAGE plpgsql
-- planned for each batch with its real keys (the planner then knows how many
-- ranges there are and reads them through the indexes); a generic plan, which
-- "auto" may switch to after a large batch, guesses 10 and can choose to scan
-- small-to-medium tables whole, for as long as the plan stays cached
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_ranges	f1tel.lap_range[];
	v_feed		boolean;
	v_written	bigint;
	v_gone		bigint := 0;
BEGIN
	IF coalesce(cardinality(p_ranges), 0) = 0 THEN
		RETURN 0;
	END IF;

	SELECT array_agg(ROW(m.session_key, m.driver_number,
						 coalesce(lower(m.r), -2147483648),
						 coalesce(upper(m.r) - 1, 2147483647))::f1tel.lap_range)
	  INTO v_ranges
	  FROM (SELECT x.session_key, x.driver_number,
				   unnest(range_agg(int8range(greatest(x.lap_from, -2147483648),
											  least(x.lap_to, 2147483647), '[]'))) AS r
			  FROM unnest(p_ranges) x
			 WHERE x.lap_from <= x.lap_to
			 GROUP BY x.session_key, x.driver_number) m;

	-- its own statement: the subscriber list is read in the next ones
	v_feed := f1tel.feed_active();

	WITH computed AS (
		SELECT c.*
		  FROM unnest(v_ranges) k
		 CROSS JOIN LATERAL f1tel.driver_laps_compute(k.session_key, k.driver_number,
													  k.lap_from, k.lap_to) c
	), written AS (
		INSERT INTO f1tel.driver_laps AS t
			(session_key, meeting_key, driver_number, lap_number, date_start,
			 lap_duration, duration_sector_1, duration_sector_2, duration_sector_3,
			 i1_speed, i2_speed, st_speed, is_pit_out_lap, lap_end, position,
			 name_acronym, full_name, team_name, team_colour, version, updated_at)
		SELECT c.session_key, c.meeting_key, c.driver_number, c.lap_number, c.date_start,
			   c.lap_duration, c.duration_sector_1, c.duration_sector_2, c.duration_sector_3,
			   c.i1_speed, c.i2_speed, c.st_speed, c.is_pit_out_lap, c.lap_end, c.position,
			   c.name_acronym, c.full_name, c.team_name, c.team_colour,
			   coalesce(del.version, 0) + 1, now()
		  FROM computed c
		  LEFT JOIN f1tel.driver_laps_deleted del
			ON del.session_key = c.session_key
		   AND del.driver_number = c.driver_number
		   AND del.lap_number = c.lap_number
		ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
		   SET meeting_key = excluded.meeting_key,
			   date_start = excluded.date_start,
			   lap_duration = excluded.lap_duration,
			   duration_sector_1 = excluded.duration_sector_1,
			   duration_sector_2 = excluded.duration_sector_2,
			   duration_sector_3 = excluded.duration_sector_3,
			   i1_speed = excluded.i1_speed,
			   i2_speed = excluded.i2_speed,
			   st_speed = excluded.st_speed,
			   is_pit_out_lap = excluded.is_pit_out_lap,
			   lap_end = excluded.lap_end,
			   position = excluded.position,
			   name_acronym = excluded.name_acronym,
			   full_name = excluded.full_name,
			   team_name = excluded.team_name,
			   team_colour = excluded.team_colour,
			   version = t.version + 1,
			   updated_at = excluded.updated_at
		 WHERE (t.meeting_key, t.date_start, t.lap_duration, t.duration_sector_1,
				t.duration_sector_2, t.duration_sector_3, t.i1_speed, t.i2_speed,
				t.st_speed, t.is_pit_out_lap, t.lap_end, t.position, t.name_acronym,
				t.full_name, t.team_name, t.team_colour)
			   IS DISTINCT FROM
			   (excluded.meeting_key, excluded.date_start, excluded.lap_duration,
				excluded.duration_sector_1, excluded.duration_sector_2,
				excluded.duration_sector_3, excluded.i1_speed, excluded.i2_speed,
				excluded.st_speed, excluded.is_pit_out_lap, excluded.lap_end,
				excluded.position, excluded.name_acronym, excluded.full_name,
				excluded.team_name, excluded.team_colour)
		RETURNING t
	), changes AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, version, row_data)
		SELECT 'driver_laps', 'upsert', (w.t).session_key, (w.t).driver_number,
			   (w.t).lap_number, (w.t).version, f1tel.driver_laps_image(w.t)
		  FROM written w
		 WHERE v_feed
		 ORDER BY (w.t).session_key, (w.t).driver_number, (w.t).lap_number
		RETURNING id
	), queued AS (
		INSERT INTO f1tel.change_queue (subscriber, change_id)
		SELECT s.name, c.id
		  FROM changes c CROSS JOIN f1tel.change_subscribers s
	)
	SELECT count(*) INTO v_written FROM written;

	IF p_deletions THEN
		WITH gone AS (
			DELETE FROM f1tel.driver_laps t
			 USING unnest(v_ranges) k
			 WHERE t.session_key = k.session_key
			   AND t.driver_number = k.driver_number
			   AND t.lap_number BETWEEN k.lap_from AND k.lap_to
			   AND NOT EXISTS (SELECT 1 FROM f1tel.laps l
								WHERE l.session_key = t.session_key
								  AND l.driver_number = t.driver_number
								  AND l.lap_number = t.lap_number)
			RETURNING t
		), tombstones AS (
			INSERT INTO f1tel.driver_laps_deleted AS del
				(session_key, driver_number, lap_number, version, deleted_at)
			SELECT (g.t).session_key, (g.t).driver_number, (g.t).lap_number,
				   (g.t).version + 1, now()
			  FROM gone g
			ON CONFLICT (session_key, driver_number, lap_number) DO UPDATE
			   SET version = excluded.version, deleted_at = excluded.deleted_at
		), changes AS (
			-- op 'delete': the last image, with the version and time of the deletion
			INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
									   lap_number, version, row_data)
			SELECT 'driver_laps', 'delete', (g.t).session_key, (g.t).driver_number,
				   (g.t).lap_number, (g.t).version + 1,
				   f1tel.driver_laps_image(g.t)
				   || jsonb_build_object('version', (g.t).version + 1,
										 'updated_at', f1tel.utc_text(now()))
			  FROM gone g
			 WHERE v_feed
			 ORDER BY (g.t).session_key, (g.t).driver_number, (g.t).lap_number
			RETURNING id
		), queued AS (
			INSERT INTO f1tel.change_queue (subscriber, change_id)
			SELECT s.name, c.id
			  FROM changes c CROSS JOIN f1tel.change_subscribers s
		)
		SELECT count(*) INTO v_gone FROM gone;
	END IF;

	RETURN v_written + v_gone;
END
$$;

/*
 * Recomputes every driver_laps row (of one session, or of all): the repair for
 * a drift, and what TRUNCATE of a staging table does.  Safe while writers run:
 * it takes the advisory locks of every driver it recomputes.  Returns the
 * number of rows written or deleted (0 when nothing had drifted).
 */
CREATE FUNCTION f1tel.driver_laps_refresh(p_session_key integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
BEGIN
	SELECT array_agg(k.session_key), array_agg(k.driver_number)
	  INTO v_sessions, v_drivers
	  FROM (SELECT l.session_key, l.driver_number FROM f1tel.laps l
			 WHERE p_session_key IS NULL OR l.session_key = p_session_key
			UNION
			SELECT dl.session_key, dl.driver_number FROM f1tel.driver_laps dl
			 WHERE p_session_key IS NULL OR dl.session_key = p_session_key) k;
	IF v_sessions IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
	RETURN f1tel.driver_laps_apply(
		ARRAY(SELECT ROW(u.s, u.d, -2147483648, 2147483647)::f1tel.lap_range
				FROM unnest(v_sessions, v_drivers) AS u(s, d)),
		true);
END
$$;

COMMENT ON FUNCTION f1tel.driver_laps_refresh(integer) IS
'Recomputes driver_laps from its definition (all sessions, or one) and records the changes; returns the number of rows fixed. Not needed in normal operation.';

-- laps: rows n and n - 1 of every lap n in the transition tables.
CREATE FUNCTION f1tel.laps_sync()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_keys		f1tel.lap_range[];
	v_old		f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(ROW(n.session_key, n.driver_number,
							 n.lap_number::bigint - 1, n.lap_number)::f1tel.lap_range)
		  INTO v_keys FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(ROW(o.session_key, o.driver_number,
							 o.lap_number::bigint - 1, o.lap_number)::f1tel.lap_range)
		  INTO v_old FROM old_rows o;
		v_keys := v_keys || v_old;
	END IF;
	IF v_keys IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(ARRAY(SELECT k.session_key FROM unnest(v_keys) k),
							   ARRAY(SELECT k.driver_number FROM unnest(v_keys) k));
	PERFORM f1tel.driver_laps_apply(v_keys, TG_OP <> 'INSERT');
	RETURN NULL;
END
$$;

-- drivers: every row of the drivers in the transition tables.
CREATE FUNCTION f1tel.drivers_sync()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_old_s		integer[];
	v_old_d		integer[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(n.session_key), array_agg(n.driver_number)
		  INTO v_sessions, v_drivers FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(o.session_key), array_agg(o.driver_number)
		  INTO v_old_s, v_old_d FROM old_rows o;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
	PERFORM f1tel.driver_laps_apply(
		ARRAY(SELECT DISTINCT ROW(u.s, u.d, -2147483648, 2147483647)::f1tel.lap_range
				FROM unnest(v_sessions, v_drivers) AS u(s, d)),
		false);
	RETURN NULL;
END
$$;

/*
 * position: the rows whose lap_end lies in [p, next) for every changed record
 * date p, where next is the date of the driver's next record now.  Proof that
 * this is enough: if a lap's chosen record changed from a to b, then b was
 * inserted or updated (b in new_rows, lap_end in [b, next(b))), or a was
 * deleted and b is earlier (a in old_rows, and no record lies in (a, lap_end]
 * now, so lap_end is in [a, next(a))).
 */
CREATE FUNCTION f1tel.position_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_dates		timestamptz[];
	v_old_s		integer[];
	v_old_d		integer[];
	v_old_t		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		SELECT array_agg(n.session_key), array_agg(n.driver_number), array_agg(n.date)
		  INTO v_sessions, v_drivers, v_dates FROM new_rows n;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		SELECT array_agg(o.session_key), array_agg(o.driver_number), array_agg(o.date)
		  INTO v_old_s, v_old_d, v_old_t FROM old_rows o;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
		v_dates := v_dates || v_old_t;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);

	-- a later statement: reads after the locks
	SELECT array_agg(ROW(dl.session_key, dl.driver_number,
						 dl.lap_number, dl.lap_number)::f1tel.lap_range)
	  INTO v_ranges
	  FROM (SELECT DISTINCT u.s, u.d, u.t
			  FROM unnest(v_sessions, v_drivers, v_dates) AS u(s, d, t)) c
	 CROSS JOIN LATERAL (
		SELECT min(p.date) AS next_date
		  FROM f1tel.position p
		 WHERE p.session_key = c.s
		   AND p.driver_number = c.d
		   AND p.date > c.t) nx
	  JOIN f1tel.driver_laps dl
		ON dl.session_key = c.s
	   AND dl.driver_number = c.d
	   AND dl.lap_end >= c.t
	   AND dl.lap_end < coalesce(nx.next_date, 'infinity');

	PERFORM f1tel.driver_laps_apply(v_ranges, false);
	RETURN NULL;
END
$$;

CREATE FUNCTION f1tel.staging_truncated()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM f1tel.driver_laps_refresh(NULL);
	RETURN NULL;
END
$$;

-- race_control: every new record goes to the change feed (version 1).
CREATE FUNCTION f1tel.race_control_emit()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM new_rows) OR NOT f1tel.feed_active() THEN
		RETURN NULL;
	END IF;
	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, race_control_id, version, row_data)
		SELECT 'race_control', 'upsert', n.session_key, n.driver_number,
			   n.lap_number, n.id, 1, f1tel.race_control_image(n)
		  FROM new_rows n
		 ORDER BY n.id
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT s.name, c.id
	  FROM c CROSS JOIN f1tel.change_subscribers s;
	RETURN NULL;
END
$$;

/*
 * Every input of driver_laps gets the same four statement-level triggers:
 * insert, update and delete hand their transition tables to the input's
 * sync function; TRUNCATE (no transition table) refuses to leave driver_laps
 * stale.  One rule for all inputs, so a new input cannot miss one.
 */
DO $$
DECLARE
	input		record;
BEGIN
	FOR input IN
		SELECT * FROM (VALUES ('laps', 'laps_sync'), ('drivers', 'drivers_sync'),
							  ('position', 'position_sync')) AS i(tbl, fn)
	LOOP
		EXECUTE format('CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.%I'
					   ' REFERENCING NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I()', input.tbl, input.fn);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I()', input.tbl, input.fn);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I()', input.tbl, input.fn);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.%I'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated()', input.tbl);
	END LOOP;
END
$$;

CREATE TRIGGER change_feed_insert AFTER INSERT ON f1tel.race_control
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.race_control_emit();
