/*
 * src/tools/dash_queries.c — the fixed set of queries f1tel-dash runs: one
 * per part of a session's state (src/tools/dash.h), each taking the
 * session_key as its only parameter ($1) and returning one JSON text, plus
 * the latest session and the list of sessions.  No text from a browser ever
 * reaches SQL: the only input is the checked integer session key.
 *
 * Rules a reader must know: every name is schema-qualified (the connection
 * also runs with search_path = pg_catalog, pg_temp); every list is bounded
 * (LIMIT) so a response has a known size; the JSON keys are the contract
 * with the page (src/tools/dash/web/app.js; README, "The dashboard").
 * Timestamps come out as ISO 8601 because the connection sets TimeZone UTC.
 */
#include "tools/dash.h"

#include <stddef.h>

/* the query of each part, indexed by DashPart */
const char *const dash_part_sql[DASH_NPARTS] = {
	/* PART_SESSION */
	"SELECT json_build_object("
	" 'session_key', k.session_key, 'session_name', s.session_name,"
	" 'session_type', s.session_type, 'meeting_name', m.meeting_name,"
	" 'circuit_short_name', s.circuit_short_name, 'country_name', s.country_name,"
	" 'year', s.year, 'date_start', s.date_start, 'date_end', s.date_end)::text"
	"  FROM (SELECT $1::integer AS session_key) k"
	"  LEFT JOIN f1tel.sessions s ON s.session_key = k.session_key"
	"  LEFT JOIN f1tel.meetings m ON m.meeting_key = s.meeting_key",

	/* PART_TOWER: f1tel.timing in tower order */
	"SELECT coalesce(json_agg(json_build_object("
	" 'position', t.position, 'position_source', t.position_source,"
	" 'driver_number', t.driver_number, 'name_acronym', t.name_acronym,"
	" 'full_name', t.full_name, 'team_name', t.team_name, 'team_colour', t.team_colour,"
	" 'gap_to_leader', t.gap_to_leader, 'gap_to_leader_laps', t.gap_to_leader_laps,"
	" 'interval', t.\"interval\", 'interval_laps', t.interval_laps,"
	" 'laps_completed', t.laps_completed, 'last_lap_number', t.last_lap_number,"
	" 'last_lap_duration', t.last_lap_duration, 'best_lap_number', t.best_lap_number,"
	" 'best_lap_duration', t.best_lap_duration,"
	" 'sector_1', t.sector_1, 'sector_1_flag', t.sector_1_flag,"
	" 'sector_2', t.sector_2, 'sector_2_flag', t.sector_2_flag,"
	" 'sector_3', t.sector_3, 'sector_3_flag', t.sector_3_flag,"
	" 'stint_number', t.stint_number, 'compound', t.compound, 'tyre_age', t.tyre_age,"
	" 'pit_stops', t.pit_stops)"
	" ORDER BY t.position NULLS LAST, t.driver_number), '[]')::text"
	"  FROM (SELECT * FROM f1tel.timing WHERE session_key = $1 LIMIT 100) t",

	/* PART_RACE_CONTROL: newest first, the newest 500 */
	"SELECT coalesce(json_agg(r ORDER BY r.date DESC, r.id DESC), '[]')::text"
	"  FROM (SELECT rc.id, rc.date, rc.category, rc.flag, rc.scope, rc.sector,"
	"               rc.lap_number, rc.driver_number, rc.name_acronym, rc.message"
	"          FROM f1tel.race_control_v rc"
	"         WHERE rc.session_key = $1"
	"         ORDER BY rc.date DESC, rc.id DESC LIMIT 500) r",

	/* PART_POSITIONS: one series per driver */
	"SELECT coalesce(json_agg(json_build_object("
	" 'driver_number', d.driver_number, 'name_acronym', d.name_acronym,"
	" 'team_colour', d.team_colour, 'laps', d.laps) ORDER BY d.driver_number), '[]')::text"
	"  FROM (SELECT dl.driver_number, max(dl.name_acronym) AS name_acronym,"
	"               max(dl.team_colour) AS team_colour,"
	"               json_agg(json_build_array(dl.lap_number, dl.position) ORDER BY dl.lap_number) AS laps"
	"          FROM (SELECT * FROM f1tel.driver_laps WHERE session_key = $1"
	"                 ORDER BY driver_number, lap_number LIMIT 10000) dl"
	"         GROUP BY dl.driver_number) d",

	/* PART_FASTEST_LAPS */
	"SELECT coalesce(json_agg(json_build_object("
	" 'rank', f.rank, 'driver_number', f.driver_number, 'name_acronym', f.name_acronym,"
	" 'team_colour', f.team_colour, 'lap_number', f.lap_number,"
	" 'lap_duration', f.lap_duration, 'gap_to_fastest', f.gap_to_fastest,"
	" 'st_speed', f.st_speed) ORDER BY f.rank, f.driver_number), '[]')::text"
	"  FROM (SELECT * FROM f1tel.fastest_laps WHERE session_key = $1 LIMIT 100) f",

	/* PART_SPEED_TRAP: st_speed by lap, one series per driver */
	"SELECT coalesce(json_agg(json_build_object("
	" 'driver_number', d.driver_number, 'name_acronym', d.name_acronym,"
	" 'team_colour', d.team_colour, 'laps', d.laps) ORDER BY d.driver_number), '[]')::text"
	"  FROM (SELECT dl.driver_number, max(dl.name_acronym) AS name_acronym,"
	"               max(dl.team_colour) AS team_colour,"
	"               json_agg(json_build_array(dl.lap_number, dl.st_speed) ORDER BY dl.lap_number) AS laps"
	"          FROM (SELECT * FROM f1tel.driver_laps WHERE session_key = $1"
	"                 ORDER BY driver_number, lap_number LIMIT 10000) dl"
	"         GROUP BY dl.driver_number) d",

	/*
	 * PART_TRACK: the outline is the session's fastest lap (not a pit-out
	 * lap) among those with location samples, as that car drove it; the
	 * cars are each driver's latest location.
	 */
	"WITH l AS ("
	"  SELECT dl.driver_number, dl.date_start, dl.lap_duration"
	"    FROM f1tel.driver_laps dl"
	"   WHERE dl.session_key = $1 AND dl.lap_duration IS NOT NULL"
	"     AND dl.date_start IS NOT NULL AND dl.is_pit_out_lap IS NOT TRUE"
	"     AND EXISTS (SELECT 1 FROM f1tel.location e"
	"                  WHERE e.session_key = dl.session_key AND e.driver_number = dl.driver_number"
	"                    AND e.date >= dl.date_start"
	"                    AND e.date < dl.date_start + dl.lap_duration * interval '1 second')"
	"   ORDER BY dl.lap_duration LIMIT 1)"
	"SELECT json_build_object("
	" 'outline', (SELECT coalesce(json_agg(json_build_array(p.x, p.y) ORDER BY p.date), '[]')"
	"               FROM (SELECT loc.x, loc.y, loc.date FROM l"
	"                       JOIN f1tel.location loc ON loc.session_key = $1"
	"                        AND loc.driver_number = l.driver_number"
	"                        AND loc.date >= l.date_start"
	"                        AND loc.date < l.date_start + l.lap_duration * interval '1 second'"
	"                      ORDER BY loc.date LIMIT 1000) p),"
	" 'cars', (SELECT coalesce(json_agg(json_build_object("
	"            'driver_number', d.driver_number, 'name_acronym', d.name_acronym,"
	"            'team_colour', d.team_colour, 'x', c.x, 'y', c.y, 'date', c.date)"
	"            ORDER BY d.driver_number), '[]')"
	"            FROM (SELECT * FROM f1tel.drivers WHERE session_key = $1 LIMIT 100) d"
	"           CROSS JOIN LATERAL (SELECT loc.x, loc.y, loc.date FROM f1tel.location loc"
	"                                WHERE loc.session_key = d.session_key"
	"                                  AND loc.driver_number = d.driver_number"
	"                                ORDER BY loc.date DESC LIMIT 1) c))::text",

	/* PART_WEATHER: the latest reading */
	"SELECT coalesce((SELECT json_build_object("
	" 'date', w.date, 'air_temperature', w.air_temperature,"
	" 'track_temperature', w.track_temperature, 'humidity', w.humidity,"
	" 'pressure', w.pressure, 'rainfall', w.rainfall,"
	" 'wind_direction', w.wind_direction, 'wind_speed', w.wind_speed)"
	"   FROM f1tel.weather w WHERE w.session_key = $1"
	"  ORDER BY w.date DESC LIMIT 1), 'null'::json)::text",
};

/* what a part is for a session without any data */
const char *const dash_part_empty[DASH_NPARTS] = {
	"{\"session_key\":null}", "[]", "[]", "[]", "[]", "[]",
	"{\"outline\":[],\"cars\":[]}", "null"
};

/* the session "latest" stands for: f1tel.latest_session, else the newest with drivers */
const char *const dash_latest_sql =
	"SELECT coalesce((SELECT ls.session_key FROM f1tel.latest_session ls),"
	"                (SELECT max(d.session_key) FROM f1tel.drivers d))";

/* the sessions a page can pick, newest first */
const char *const dash_sessions_sql =
	"SELECT json_build_object('sessions', coalesce(json_agg(json_build_object("
	" 'session_key', k.session_key, 'session_name', s.session_name,"
	" 'session_type', s.session_type, 'meeting_name', m.meeting_name,"
	" 'circuit_short_name', s.circuit_short_name, 'country_name', s.country_name,"
	" 'year', s.year, 'date_start', s.date_start)"
	" ORDER BY s.date_start DESC NULLS LAST, k.session_key DESC), '[]'),"
	" 'latest', (SELECT ls.session_key FROM f1tel.latest_session ls))::text"
	"  FROM (SELECT x.session_key FROM (SELECT DISTINCT laps.session_key FROM f1tel.laps"
	"         UNION SELECT drivers.session_key FROM f1tel.drivers) x"
	"         ORDER BY x.session_key DESC LIMIT 1000) k"
	"  LEFT JOIN f1tel.sessions s ON s.session_key = k.session_key"
	"  LEFT JOIN f1tel.meetings m ON m.meeting_key = s.meeting_key";
