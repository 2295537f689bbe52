/*
 * src/enrich/changes.sql — the change feed the sinks (BigQuery, the upsert
 * topic) read: every new row and every real change of f1tel.driver_laps, and
 * every new f1tel.race_control row.
 *
 * Why a queue per subscriber and no cursor.  A sink that remembers "the
 * highest change id I have read" and asks for "id > last seen" skips changes:
 * ids come from a sequence when a row is written, not when its transaction
 * commits, so transaction A can take id 10, transaction B id 11, B commit, the
 * sink read 11 and move its cursor past 10, and A commit afterwards: change 10
 * is never read.  Here every change is written together with one
 * f1tel.change_queue row per subscriber, in the transaction that made the
 * change.  A queue row becomes visible when that transaction commits,
 * whatever its id, and stays until the subscriber acknowledges it; a reader
 * takes "whatever is queued for me", not "what is after my cursor".  So
 * nothing is skipped, and a change rolled back never existed.
 *
 * Rules a reader must know:
 *
 * - Only the functions of this file and of triggers.sql write these tables.
 *   There are no foreign keys on purpose: an FK check would lock the
 *   subscriber's row in every ingest transaction (multixacts under
 *   concurrency).
 * - With no subscriber, the triggers write nothing here at all.
 * - Subscribers are added and removed under an ACCESS EXCLUSIVE lock on
 *   f1tel.change_subscribers; a writer takes ACCESS SHARE on it (in its own
 *   statement, f1tel.feed_active()) before it reads the subscriber list in a
 *   later statement, and keeps it to commit.  So a writer either committed
 *   before subscribe() took its snapshot (the new subscriber's backfill holds
 *   the change) or reads the list after subscribe() committed (the writer
 *   queues the change for the new subscriber): never neither.  This needs
 *   READ COMMITTED (a fresh snapshot per statement); the functions refuse
 *   other isolation levels.
 * - Versions of one driver_laps row are written under the same advisory lock
 *   (triggers.sql), so for one key a higher version always has a higher
 *   change id and becomes visible after the lower one.
 * - A change stays queued until ack_changes() removes it, so delivery to a
 *   destination is at least once; the deterministic version makes a
 *   redelivery recognisable.  Two ways to read:
 *   - read_changes() and ack_changes() in one transaction: the queue rows
 *     stay locked (FOR UPDATE SKIP LOCKED) until it commits, so two readers
 *     of one subscriber never get the same change;
 *   - the sink's way (src/sink/sink.h): read_changes() in a transaction that
 *     commits at once, push with no transaction open, then ack_changes() in
 *     a second transaction for what the destination confirmed.  The locks end
 *     with the first transaction, so a subscriber read this way must have one
 *     reader only (the sink worker); what it does not acknowledge (a crash, a
 *     refused request) is read again in a later round.
 */

CREATE TABLE f1tel.change_subscribers (
	name				text PRIMARY KEY CHECK (name <> ''),
	created_at			timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE f1tel.change_subscribers IS
'Sinks reading the change feed; add and remove them with f1tel.subscribe() and f1tel.unsubscribe().';
/* pg_dump keeps the feed: subscribers, changes (and their id sequence), queues */
SELECT pg_catalog.pg_extension_config_dump('f1tel.change_subscribers', '');

/*
 * One row image per change.  Key columns: (session_key, driver_number,
 * lap_number) for driver_laps, race_control_id for race_control (whose
 * session_key, driver_number and lap_number are the record's own, for
 * filtering).  op 'upsert' carries the row image at that version; op
 * 'delete' (a lap deleted from f1tel.laps) carries the last image with the
 * version and updated_at of the deletion.  A change row is deleted once every
 * subscriber it was queued for acknowledged it.
 */
CREATE TABLE f1tel.changes (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	table_name			text NOT NULL CHECK (table_name IN ('driver_laps', 'race_control')),
	op					text NOT NULL DEFAULT 'upsert' CHECK (op IN ('upsert', 'delete')),
	session_key			integer NOT NULL,
	driver_number		integer,
	lap_number			integer,
	race_control_id		bigint,
	version				bigint NOT NULL,
	row_data			jsonb NOT NULL,
	changed_at			timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE f1tel.changes IS
'Row images of driver_laps and race_control changes not yet acknowledged by every subscriber; read them with f1tel.read_changes().';
SELECT pg_catalog.pg_extension_config_dump('f1tel.changes', '');
SELECT pg_catalog.pg_extension_config_dump('f1tel.changes_id_seq', '');

CREATE TABLE f1tel.change_queue (
	subscriber			text NOT NULL,
	change_id			bigint NOT NULL,
	PRIMARY KEY (subscriber, change_id)
);
CREATE INDEX change_queue_change_id_idx ON f1tel.change_queue (change_id);

COMMENT ON TABLE f1tel.change_queue IS
'Changes each subscriber has not acknowledged yet: one row per (subscriber, change), written in the transaction that made the change.';
SELECT pg_catalog.pg_extension_config_dump('f1tel.change_queue', '');

-- Timestamps in row images: UTC, microseconds, whatever the session's TimeZone.
CREATE FUNCTION f1tel.utc_text(ts timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"');

-- The image of a driver_laps row as the sinks get it: every column.
CREATE FUNCTION f1tel.driver_laps_image(r f1tel.driver_laps)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_jsonb(r)
	|| jsonb_build_object('date_start', f1tel.utc_text(r.date_start),
						  'lap_end', f1tel.utc_text(r.lap_end),
						  'updated_at', f1tel.utc_text(r.updated_at));

-- The image of a race_control row: the record, without its Kafka provenance.
CREATE FUNCTION f1tel.race_control_image(r f1tel.race_control)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
RETURN jsonb_build_object('id', r.id,
						  'session_key', r.session_key,
						  'meeting_key', r.meeting_key,
						  'date', f1tel.utc_text(r.date),
						  'driver_number', r.driver_number,
						  'lap_number', r.lap_number,
						  'sector', r.sector,
						  'category', r.category,
						  'flag', r.flag,
						  'scope', r.scope,
						  'message', r.message);

-- The feed's consistency (and the driver_laps triggers') needs a fresh
-- snapshot for every statement.
CREATE FUNCTION f1tel.require_read_committed()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'f1tel: % isolation is not supported here',
			upper(current_setting('transaction_isolation'))
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Write to f1tel.laps, drivers, position and race_control, and call subscribe(), in READ COMMITTED transactions, as the ingest worker does.';
	END IF;
END
$$;

/*
 * Whether changes must be recorded now.  Takes ACCESS SHARE on
 * change_subscribers in a statement of its own and reads the list in the next
 * one, so the answer (and the list the caller then reads) cannot miss a
 * subscriber that committed before it (see the header).
 */
CREATE FUNCTION f1tel.feed_active()
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	LOCK TABLE f1tel.change_subscribers IN ACCESS SHARE MODE;
	RETURN EXISTS (SELECT 1 FROM f1tel.change_subscribers);
END
$$;

/*
 * Adds a subscriber and queues for it the current image of every driver_laps
 * and race_control row, so a sink enabled late pushes the full state.  Returns
 * false, and does nothing, when the subscriber exists already (its queue is
 * kept): a sink may call it at every start.
 */
CREATE FUNCTION f1tel.subscribe(subscriber text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	IF subscriber IS NULL OR subscriber = '' THEN
		RAISE EXCEPTION 'f1tel: a subscriber needs a name'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- waits for writers in flight, holds new ones until we commit
	LOCK TABLE f1tel.change_subscribers IN ACCESS EXCLUSIVE MODE;
	IF EXISTS (SELECT 1 FROM f1tel.change_subscribers s
				WHERE s.name = subscribe.subscriber) THEN
		RETURN false;
	END IF;
	INSERT INTO f1tel.change_subscribers (name) VALUES (subscriber);

	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, version, row_data)
		SELECT 'driver_laps', 'upsert', dl.session_key, dl.driver_number,
			   dl.lap_number, dl.version, f1tel.driver_laps_image(dl)
		  FROM f1tel.driver_laps dl
		 ORDER BY dl.session_key, dl.driver_number, dl.lap_number
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT subscribe.subscriber, c.id FROM c;

	WITH c AS (
		INSERT INTO f1tel.changes (table_name, op, session_key, driver_number,
								   lap_number, race_control_id, version, row_data)
		SELECT 'race_control', 'upsert', rc.session_key, rc.driver_number,
			   rc.lap_number, rc.id, 1, f1tel.race_control_image(rc)
		  FROM f1tel.race_control rc
		 ORDER BY rc.id
		RETURNING id)
	INSERT INTO f1tel.change_queue (subscriber, change_id)
	SELECT subscribe.subscriber, c.id FROM c;

	RETURN true;
END
$$;

COMMENT ON FUNCTION f1tel.subscribe(text) IS
'Adds a change feed subscriber and queues the current image of every driver_laps and race_control row for it; false if it exists already.';

/*
 * Up to max_rows changes queued for the subscriber, in change_id order, that
 * no other transaction holds: the queue rows are locked (FOR UPDATE SKIP
 * LOCKED) until the calling transaction ends.  Acknowledge them with
 * ack_changes(), in the same transaction or, with one reader per
 * subscriber, in a later one (see the top of this file).
 */
CREATE FUNCTION f1tel.read_changes(subscriber text, max_rows integer DEFAULT 500)
RETURNS TABLE (change_id bigint, table_name text, version bigint,
			   row_data jsonb, changed_at timestamptz, op text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM f1tel.change_subscribers s
					WHERE s.name = read_changes.subscriber) THEN
		RAISE EXCEPTION 'f1tel: no change feed subscriber "%"', subscriber
			USING ERRCODE = 'undefined_object',
				  HINT = 'Create it with f1tel.subscribe().';
	END IF;
	RETURN QUERY
	SELECT c.id, c.table_name, c.version, c.row_data, c.changed_at, c.op
	  FROM (SELECT q.change_id
			  FROM f1tel.change_queue q
			 WHERE q.subscriber = read_changes.subscriber
			 ORDER BY q.change_id
			 LIMIT greatest(max_rows, 0)
			   FOR UPDATE SKIP LOCKED) q
	  JOIN f1tel.changes c ON c.id = q.change_id
	 ORDER BY c.id;
END
$$;

COMMENT ON FUNCTION f1tel.read_changes(text, integer) IS
'Changes queued for a subscriber, oldest first, locked FOR UPDATE SKIP LOCKED until the transaction ends; acknowledge them with ack_changes() in the same transaction or, with a single reader per subscriber, in a later one.';

/*
 * Removes the given changes from the subscriber's queue, and the change rows
 * no subscriber still needs.  Returns how many queue rows it removed (ids not
 * queued for the subscriber are ignored).  The change rows are locked first,
 * in id order: two subscribers acknowledging the same change at once are
 * serialised, and the second one, in a later statement, sees that the first
 * one's queue row is gone and deletes the change row.
 */
CREATE FUNCTION f1tel.ack_changes(subscriber text, change_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_acked		bigint[];
BEGIN
	IF coalesce(cardinality(change_ids), 0) = 0 THEN
		RETURN 0;
	END IF;
	PERFORM 1
	   FROM f1tel.changes c
	  WHERE c.id = ANY (change_ids)
	  ORDER BY c.id
		FOR NO KEY UPDATE;

	WITH d AS (
		DELETE FROM f1tel.change_queue q
		 WHERE q.subscriber = ack_changes.subscriber
		   AND q.change_id = ANY (change_ids)
		RETURNING q.change_id)
	SELECT array_agg(d.change_id) INTO v_acked FROM d;

	IF v_acked IS NULL THEN
		RETURN 0;
	END IF;
	DELETE FROM f1tel.changes c
	 WHERE c.id = ANY (v_acked)
	   AND NOT EXISTS (SELECT 1 FROM f1tel.change_queue q
						WHERE q.change_id = c.id);
	RETURN cardinality(v_acked);
END
$$;

COMMENT ON FUNCTION f1tel.ack_changes(text, bigint[]) IS
'Acknowledges changes read with read_changes(): removes them from the subscriber''s queue (and the change rows nobody needs any more); returns how many.';

-- Removes a subscriber and its queue; false if there was none.
CREATE FUNCTION f1tel.unsubscribe(subscriber text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM f1tel.require_read_committed();
	LOCK TABLE f1tel.change_subscribers IN ACCESS EXCLUSIVE MODE;
	IF NOT EXISTS (SELECT 1 FROM f1tel.change_subscribers s
					WHERE s.name = unsubscribe.subscriber) THEN
		RETURN false;
	END IF;
	PERFORM f1tel.ack_changes(subscriber,
							  ARRAY(SELECT q.change_id
									  FROM f1tel.change_queue q
									 WHERE q.subscriber = unsubscribe.subscriber));
	DELETE FROM f1tel.change_subscribers s WHERE s.name = unsubscribe.subscriber;
	RETURN true;
END
$$;

COMMENT ON FUNCTION f1tel.unsubscribe(text) IS
'Removes a change feed subscriber and everything queued for it; false if there was none.';

-- f1tel.change_backlog, the queue's size per subscriber, is in src/sink/schema.sql
-- (its status column reads the sink's state).
