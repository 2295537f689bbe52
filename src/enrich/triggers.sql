/*
 * src/enrich/triggers.sql — keeps f1tel.driver_laps equal to the view
 * f1tel.driver_laps_v, whatever order its inputs arrive in (laps, drivers,
 * position, stints, pit, intervals, weather, car_data), and records every
 * real change in the change feed (changes.sql).
 *
 * How: statement-level AFTER triggers with transition tables on every input
 * (one per event, as PostgreSQL requires), plus TRUNCATE.  Each computes
 * from its transition tables which laps the statement can have changed,
 * recomputes exactly those with f1tel.driver_laps_compute() (the view's own
 * definition), upserts the rows that differ (IS DISTINCT FROM: a
 * recomputation that changes nothing writes and emits nothing), and deletes
 * rows whose lap is gone.  A batch of thousands of messages costs a handful
 * of statements, and the work grows with the laps it touches:
 *
 *   laps       lap n of a driver changed: rows n and n - 1 (the previous
 *              lap's lap_end may be this lap's date_start);
 *   drivers    a driver's metadata changed: all that driver's rows;
 *   position,  a record at date p changed (inserted, updated or deleted):
 *   intervals  the driver's rows whose lap_end lies in [p, next record's
 *              date), found through driver_laps_lap_end_idx.  Those and only
 *              those can have chosen, or now choose, the record at p;
 *   weather    the same, for every driver of the session;
 *   stints,    the laps of the stint's lap_start..lap_end, of the pit
 *   pit        record's lap_number;
 *   car_data   samples from t1 to t2 of a driver changed: the driver's rows
 *              with lap_end > t1 and date_start <= t2.
 *
 * Locking (why concurrent writers cannot leave driver_laps stale).  All rows
 * of driver (session_key, driver_number) depend only on rows of the driver
 * inputs of that same key, and on the weather of its session.  Every writer
 * of a driver input holds the session's lock shared and the advisory lock of
 * (session_key, driver_number); every writer of weather holds the session's
 * lock exclusive (f1tel.lock_drivers takes them, in one order).  The ingest
 * worker takes them all, sorted, before its batch; the triggers take them
 * again (a no-op when already held, and the protection for writers that did
 * not) BEFORE reading anything, and read only in later statements, which in
 * READ COMMITTED get a fresh snapshot.  So of two transactions touching the
 * same driver (or one the weather of its session), the second to get the
 * lock sees everything the first committed, and recomputes the rows its own
 * changes affect on top of it.  Without the lock, or reading in the
 * statement that waited for it (whose snapshot predates the other commit),
 * each transaction would recompute from a state lacking the other's
 * uncommitted change -- say one inserts lap n + 1 while the other inserts
 * the position record that then decides lap n -- and both commit a stale
 * row: write skew.  This is why the triggers refuse REPEATABLE READ and
 * SERIALIZABLE (one snapshot for the whole transaction).
 *
 * Position, intervals, weather and car_data changes find their laps by the
 * date_start and lap_end stored in driver_laps: those are current because
 * every laps change of the driver updated them under the same lock.  A write
 * that bypasses the triggers (session_replication_role = replica, disabled
 * triggers) breaks this; f1tel.driver_laps_drift shows it and
 * f1tel.driver_laps_refresh() repairs it.
 *
 * TRUNCATE of an input recomputes everything (a maintenance operation: while
 * ingest workers run it may end in a deadlock error, which aborts one side
 * and loses nothing).
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
 * The lock of a whole session: the one-key (bigint) form, the high half
 * f1tel's lock class, the low half the session_key, so pg_locks shows it as
 * locktype 'advisory', classid = the extension's OID, objid = the
 * session_key, objsubid 1.  Every writer of a driver's rows holds it shared;
 * a writer of rows that decide every driver of the session (weather) holds
 * it exclusive.
 */
CREATE FUNCTION f1tel.session_lock_key(p_session_key integer)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN ((f1tel.lock_class()::bigint & 4294967295) << 32) | (p_session_key::bigint & 4294967295);

/*
 * Takes the enrichment's advisory locks: first the lock of every session
 * involved, in session order, exclusive for the sessions in
 * p_whole_sessions and shared for the other sessions of the drivers; then
 * the lock of every distinct (session_key, driver_number), in key order.
 * One order for every writer, so no two writers can deadlock on them --
 * provided a transaction asks for all of them at once: one that holds a
 * driver lock and then wants its session exclusive can deadlock with
 * another writer (PostgreSQL then aborts one of them; the ingest worker
 * takes all its locks first, src/ingest/store.c).  The caller must read in
 * a later statement.  A lock another transaction holds is waited for at
 * most f1tel.lock_wait_timeout (0: forever); then the error (SQLSTATE 55P03,
 * lock_not_available: the ingest worker retries the batch and shows the
 * error in f1tel.ingest_status) names the sessions that hold it.
 */
CREATE FUNCTION f1tel.lock_drivers(p_session_keys integer[], p_driver_numbers integer[],
								   p_whole_sessions integer[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_class		integer := f1tel.lock_class();
	v_old		text;
	v_holders	text;
	v_what		text;
	k			record;
BEGIN
	PERFORM f1tel.require_read_committed();
	FOR k IN
		-- sessions first (kind 1; exclusive before shared of one session
		-- cannot happen: a session is in one list or taken exclusive), then
		-- drivers (kind 2)
		SELECT 1 AS kind, f1tel.session_lock_key(x.s) AS key64, 0 AS key, x.s, NULL::integer AS d,
			   bool_or(x.whole) AS exclusive
		  FROM (SELECT u.s, false AS whole FROM unnest(p_session_keys) AS u(s)
				UNION ALL
				SELECT w.s, true FROM unnest(p_whole_sessions) AS w(s)) x
		 WHERE x.s IS NOT NULL
		 GROUP BY x.s
		UNION ALL
		SELECT DISTINCT 2, 0::bigint, f1tel.driver_lock_key(u.s, u.d), u.s, u.d, true
		  FROM unnest(p_session_keys, p_driver_numbers) AS u(s, d)
		 WHERE u.s IS NOT NULL AND u.d IS NOT NULL
		 ORDER BY 1, 2, 3, 4, 5
	LOOP
		IF k.kind = 1 THEN
			CONTINUE WHEN CASE WHEN k.exclusive THEN pg_try_advisory_xact_lock(k.key64)
							   ELSE pg_try_advisory_xact_lock_shared(k.key64) END;
		ELSE
			CONTINUE WHEN pg_try_advisory_xact_lock(v_class, k.key);
		END IF;
		-- contended: wait, bounded (a subtransaction, on this path only)
		v_old := current_setting('lock_timeout');
		BEGIN
			PERFORM set_config('lock_timeout', current_setting('f1tel.lock_wait_timeout'), true);
			IF k.kind = 2 THEN
				PERFORM pg_advisory_xact_lock(v_class, k.key);
			ELSIF k.exclusive THEN
				PERFORM pg_advisory_xact_lock(k.key64);
			ELSE
				PERFORM pg_advisory_xact_lock_shared(k.key64);
			END IF;
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
			   AND l.objid::bigint = CASE WHEN k.kind = 2 THEN k.key::bigint & 4294967295
										  ELSE k.s::bigint & 4294967295 END
			   AND l.objsubid = CASE WHEN k.kind = 2 THEN 2 ELSE 1 END
			   AND l.granted
			   AND l.pid <> pg_backend_pid();
			v_what := CASE WHEN k.kind = 2 THEN format('session %s, driver %s', k.s, k.d)
						   ELSE format('session %s (all its drivers)', k.s) END;
			-- the holder in the message itself: it is what f1tel.ingest_status shows
			RAISE EXCEPTION 'f1tel: waited % for the lock of %, held by %',
				current_setting('f1tel.lock_wait_timeout'), v_what,
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
			 name_acronym, full_name, team_name, team_colour,
			 stint_number, compound, tyre_age, pit_in, pit_duration,
			 gap_to_leader, "interval", gap_to_leader_laps, interval_laps,
			 air_temperature, track_temperature, rainfall, max_speed,
			 mean_throttle, full_throttle_share, brake_share, drs_open_share,
			 samples,
			 version, updated_at)
		SELECT c.session_key, c.meeting_key, c.driver_number, c.lap_number, c.date_start,
			   c.lap_duration, c.duration_sector_1, c.duration_sector_2, c.duration_sector_3,
			   c.i1_speed, c.i2_speed, c.st_speed, c.is_pit_out_lap, c.lap_end, c.position,
			   c.name_acronym, c.full_name, c.team_name, c.team_colour,
			   c.stint_number, c.compound, c.tyre_age, c.pit_in, c.pit_duration,
			   c.gap_to_leader, c."interval", c.gap_to_leader_laps,
			   c.interval_laps, c.air_temperature, c.track_temperature,
			   c.rainfall, c.max_speed, c.mean_throttle, c.full_throttle_share,
			   c.brake_share, c.drs_open_share, c.samples,
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
			   stint_number = excluded.stint_number,
			   compound = excluded.compound,
			   tyre_age = excluded.tyre_age,
			   pit_in = excluded.pit_in,
			   pit_duration = excluded.pit_duration,
			   gap_to_leader = excluded.gap_to_leader,
			   "interval" = excluded."interval",
			   gap_to_leader_laps = excluded.gap_to_leader_laps,
			   interval_laps = excluded.interval_laps,
			   air_temperature = excluded.air_temperature,
			   track_temperature = excluded.track_temperature,
			   rainfall = excluded.rainfall,
			   max_speed = excluded.max_speed,
			   mean_throttle = excluded.mean_throttle,
			   full_throttle_share = excluded.full_throttle_share,
			   brake_share = excluded.brake_share,
			   drs_open_share = excluded.drs_open_share,
			   samples = excluded.samples,
			   version = t.version + 1,
			   updated_at = excluded.updated_at
		 WHERE (t.meeting_key, t.date_start, t.lap_duration, t.duration_sector_1,
				t.duration_sector_2, t.duration_sector_3, t.i1_speed, t.i2_speed,
				t.st_speed, t.is_pit_out_lap, t.lap_end, t.position, t.name_acronym,
				t.full_name, t.team_name, t.team_colour,
				t.stint_number, t.compound, t.tyre_age, t.pit_in,
				t.pit_duration, t.gap_to_leader, t."interval",
				t.gap_to_leader_laps, t.interval_laps, t.air_temperature,
				t.track_temperature, t.rainfall, t.max_speed, t.mean_throttle,
				t.full_throttle_share, t.brake_share, t.drs_open_share,
				t.samples)
			   IS DISTINCT FROM
			   (excluded.meeting_key, excluded.date_start, excluded.lap_duration,
				excluded.duration_sector_1, excluded.duration_sector_2,
				excluded.duration_sector_3, excluded.i1_speed, excluded.i2_speed,
				excluded.st_speed, excluded.is_pit_out_lap, excluded.lap_end,
				excluded.position, excluded.name_acronym, excluded.full_name,
				excluded.team_name, excluded.team_colour,
				excluded.stint_number, excluded.compound, excluded.tyre_age,
				excluded.pit_in, excluded.pit_duration, excluded.gap_to_leader,
				excluded."interval", excluded.gap_to_leader_laps,
				excluded.interval_laps, excluded.air_temperature,
				excluded.track_temperature, excluded.rainfall,
				excluded.max_speed, excluded.mean_throttle,
				excluded.full_throttle_share, excluded.brake_share,
				excluded.drs_open_share, excluded.samples)
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
 * position, intervals and weather: the "latest record dated <= lap_end"
 * inputs (the table is the trigger's; TG_ARGV[0] is 'driver' when a record
 * decides its own driver's laps, 'session' when it decides every driver's of
 * its session).  The rows whose lap_end lies in [p, next) for every changed
 * record date p, where next is the date of the next record now (of the
 * driver, or of the session).  Proof that this is enough: if a lap's chosen
 * record changed from a to b, then b was inserted or updated (b in new_rows,
 * lap_end in [b, next(b))), or a was deleted and b is earlier (a in
 * old_rows, and no record lies in (a, lap_end] now, so lap_end is in
 * [a, next(a))).  The table name only ever comes from TG_TABLE_NAME, quoted.
 */
CREATE FUNCTION f1tel.asof_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_per_driver boolean := TG_ARGV[0] = 'driver';
	v_sessions	integer[];
	v_drivers	integer[];
	v_dates		timestamptz[];
	v_old_s		integer[];
	v_old_d		integer[];
	v_old_t		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		IF v_per_driver THEN
			SELECT array_agg(n.session_key), array_agg(n.driver_number), array_agg(n.date)
			  INTO v_sessions, v_drivers, v_dates FROM new_rows n;
		ELSE
			SELECT array_agg(n.session_key), array_agg(n.date)
			  INTO v_sessions, v_dates FROM new_rows n;
		END IF;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		IF v_per_driver THEN
			SELECT array_agg(o.session_key), array_agg(o.driver_number), array_agg(o.date)
			  INTO v_old_s, v_old_d, v_old_t FROM old_rows o;
		ELSE
			SELECT array_agg(o.session_key), array_agg(o.date)
			  INTO v_old_s, v_old_t FROM old_rows o;
		END IF;
		v_sessions := v_sessions || v_old_s;
		v_drivers := v_drivers || v_old_d;
		v_dates := v_dates || v_old_t;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;

	IF v_per_driver THEN
		PERFORM f1tel.lock_drivers(v_sessions, v_drivers);
		-- a later statement: reads after the locks
		EXECUTE format($q$
			SELECT array_agg(ROW(dl.session_key, dl.driver_number,
								 dl.lap_number, dl.lap_number)::f1tel.lap_range)
			  FROM (SELECT DISTINCT u.s, u.d, u.t
					  FROM unnest($1, $2, $3) AS u(s, d, t)) c
			 CROSS JOIN LATERAL (
				SELECT min(p.date) AS next_date
				  FROM f1tel.%I p
				 WHERE p.session_key = c.s
				   AND p.driver_number = c.d
				   AND p.date > c.t) nx
			  JOIN f1tel.driver_laps dl
				ON dl.session_key = c.s
			   AND dl.driver_number = c.d
			   AND dl.lap_end >= c.t
			   AND dl.lap_end < coalesce(nx.next_date, 'infinity')$q$, TG_TABLE_NAME)
		  INTO v_ranges
		  USING v_sessions, v_drivers, v_dates;
	ELSE
		PERFORM f1tel.lock_drivers(NULL, NULL, v_sessions);
		EXECUTE format($q$
			SELECT array_agg(ROW(dl.session_key, dl.driver_number,
								 dl.lap_number, dl.lap_number)::f1tel.lap_range)
			  FROM (SELECT DISTINCT u.s, u.t
					  FROM unnest($1, $2) AS u(s, t)) c
			 CROSS JOIN LATERAL (
				SELECT min(p.date) AS next_date
				  FROM f1tel.%I p
				 WHERE p.session_key = c.s
				   AND p.date > c.t) nx
			  JOIN f1tel.driver_laps dl
				ON dl.session_key = c.s
			   AND dl.lap_end >= c.t
			   AND dl.lap_end < coalesce(nx.next_date, 'infinity')$q$, TG_TABLE_NAME)
		  INTO v_ranges
		  USING v_sessions, v_dates;
	END IF;

	PERFORM f1tel.driver_laps_apply(v_ranges, false);
	RETURN NULL;
END
$$;

/*
 * stints and pit: inputs that decide the laps lap_from..lap_to of their own
 * driver, given as two columns of the trigger's table (TG_ARGV[0] and [1]:
 * stints lap_start and lap_end, NULL meaning "to the end"; pit lap_number
 * twice).  Every lap in the range of a changed row, old or new, is
 * recomputed: a lap whose choice changed lies in one of them.
 */
CREATE FUNCTION f1tel.lap_ranges_sync()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_keys		f1tel.lap_range[];
	v_old		f1tel.lap_range[];
	-- %3$s is new_rows or old_rows, filled in below
	v_query		text := format($q$
		SELECT array_agg(ROW(r.session_key, r.driver_number, r.%1$I,
							 coalesce(r.%2$I, 2147483647))::f1tel.lap_range)
		  FROM %3$s r
		 WHERE r.%1$I IS NOT NULL$q$, TG_ARGV[0], TG_ARGV[1], '%s');
BEGIN
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		EXECUTE format(v_query, 'new_rows') INTO v_keys;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		EXECUTE format(v_query, 'old_rows') INTO v_old;
		v_keys := v_keys || v_old;
	END IF;
	IF v_keys IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(ARRAY(SELECT k.session_key FROM unnest(v_keys) k),
							   ARRAY(SELECT k.driver_number FROM unnest(v_keys) k));
	PERFORM f1tel.driver_laps_apply(v_keys, false);
	RETURN NULL;
END
$$;

/*
 * car_data: a sample at t counts in the laps with date_start <= t < lap_end.
 * Per driver, the laps with lap_end > the earliest changed sample and
 * date_start <= the latest: one probe of driver_laps_lap_end_idx per driver
 * and statement, however many samples (car_data is ~99% of the messages).
 * date_start and lap_end are read from driver_laps, current under the
 * driver's lock (see asof_sync above).
 */
CREATE FUNCTION f1tel.car_data_sync()
RETURNS trigger
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sessions	integer[];
	v_drivers	integer[];
	v_first		timestamptz[];
	v_last		timestamptz[];
	v_ranges	f1tel.lap_range[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT n.session_key AS s, n.driver_number AS d,
					   min(n.date) AS lo, max(n.date) AS hi
				  FROM new_rows n GROUP BY 1, 2) x;
	ELSIF TG_OP = 'UPDATE' THEN
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT r.session_key AS s, r.driver_number AS d,
					   min(r.date) AS lo, max(r.date) AS hi
				  FROM (SELECT n.session_key, n.driver_number, n.date FROM new_rows n
						UNION ALL
						SELECT o.session_key, o.driver_number, o.date FROM old_rows o) r
				 GROUP BY 1, 2) x;
	ELSE
		SELECT array_agg(x.s), array_agg(x.d), array_agg(x.lo), array_agg(x.hi)
		  INTO v_sessions, v_drivers, v_first, v_last
		  FROM (SELECT o.session_key AS s, o.driver_number AS d,
					   min(o.date) AS lo, max(o.date) AS hi
				  FROM old_rows o GROUP BY 1, 2) x;
	END IF;
	IF v_sessions IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM f1tel.lock_drivers(v_sessions, v_drivers);

	-- a later statement: reads after the locks
	SELECT array_agg(ROW(dl.session_key, dl.driver_number,
						 dl.lap_number, dl.lap_number)::f1tel.lap_range)
	  INTO v_ranges
	  FROM unnest(v_sessions, v_drivers, v_first, v_last) AS c(s, d, lo, hi)
	  JOIN f1tel.driver_laps dl
		ON dl.session_key = c.s
	   AND dl.driver_number = c.d
	   AND dl.lap_end > c.lo
	   AND dl.date_start <= c.hi;

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
 * sync function (with its arguments); TRUNCATE (no transition table)
 * refuses to leave driver_laps stale.  One rule for all inputs, so a new
 * input cannot miss one.
 */
DO $$
DECLARE
	input		record;
BEGIN
	FOR input IN
		SELECT * FROM (VALUES ('laps', 'laps_sync', ''),
							  ('drivers', 'drivers_sync', ''),
							  ('position', 'asof_sync', '''driver'''),
							  ('intervals', 'asof_sync', '''driver'''),
							  ('weather', 'asof_sync', '''session'''),
							  ('stints', 'lap_ranges_sync', '''lap_start'', ''lap_end'''),
							  ('pit', 'lap_ranges_sync', '''lap_number'', ''lap_number'''),
							  ('car_data', 'car_data_sync', '')) AS i(tbl, fn, args)
	LOOP
		EXECUTE format('CREATE TRIGGER driver_laps_sync_insert AFTER INSERT ON f1tel.%I'
					   ' REFERENCING NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_update AFTER UPDATE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_delete AFTER DELETE ON f1tel.%I'
					   ' REFERENCING OLD TABLE AS old_rows'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.%I(%s)', input.tbl, input.fn, input.args);
		EXECUTE format('CREATE TRIGGER driver_laps_sync_truncate AFTER TRUNCATE ON f1tel.%I'
					   ' FOR EACH STATEMENT EXECUTE FUNCTION f1tel.staging_truncated()', input.tbl);
	END LOOP;
END
$$;

CREATE TRIGGER change_feed_insert AFTER INSERT ON f1tel.race_control
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f1tel.race_control_emit();
