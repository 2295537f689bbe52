/*
 * src/enrich/notify.sql — tells listeners that f1tel's data changed: after
 * every statement that writes a table the dashboard (f1tel-dash) or any
 * other live reader shows, NOTIFY f1tel_changes with the table's name as the
 * payload.
 *
 * Rules a reader must know: the notification is sent when the writing
 * transaction commits (never for one rolled back), and PostgreSQL sends one
 * notification per table and transaction however many statements wrote it,
 * so an ingest batch costs one per table it touched.  The payload is only
 * the table name: a listener reads what changed itself, with its own
 * privileges (f1tel_reader).  Anyone may LISTEN; what is on the channel says
 * nothing but which table changed.  f1tel.driver_laps is written by the
 * enrichment triggers, so a new lap notifies both laps and driver_laps.
 */
CREATE FUNCTION f1tel.notify_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_catalog.pg_notify('f1tel_changes', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION f1tel.notify_change() IS
'Statement trigger: NOTIFY f1tel_changes, payload the table''s name (for f1tel-dash and other live readers).';

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['laps', 'driver_laps', 'position', 'intervals', 'stints', 'pit',
							 'drivers', 'race_control', 'location', 'weather', 'sessions',
							 'meetings']
	LOOP
		EXECUTE format('CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE'
					   ' ON f1tel.%I FOR EACH STATEMENT EXECUTE FUNCTION f1tel.notify_change()', t);
	END LOOP;
END
$$;

