--
-- Decoding of every endpoint through f1tel.ingest_message(), which runs the
-- ingest worker's decode and store code without Kafka.  The records are real:
-- copied verbatim from test/data/openf1/<session>/<endpoint>.json unless a
-- comment says a case is hand-written.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 0;

-- laps: 9189 laps.json, first record
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1225,"session_key":9189,"driver_number":1,"lap_number":1,"date_start":"2023-11-19T06:04:05.009000+00:00","duration_sector_1":34.284,"duration_sector_2":33.497,"duration_sector_3":38.249,"i1_speed":176,"i2_speed":204,"is_pit_out_lap":false,"lap_duration":106.03,"segments_sector_1":[2048,2049,2051,2049,2051,2051],"segments_sector_2":[2051,2051,2051,2051,2049,2051,2051],"segments_sector_3":[2049,2049,2049,2049,2049,2049,2049,2051],"st_speed":278}', 'k', 0, 100);
-- laps quirk, null lap_duration and sectors: 9189 driver 4 lap 3 (retired)
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1225,"session_key":9189,"driver_number":4,"lap_number":3,"date_start":"2023-11-19T06:08:15.098000+00:00","duration_sector_1":29.696,"duration_sector_2":null,"duration_sector_3":null,"i1_speed":170,"i2_speed":null,"is_pit_out_lap":false,"lap_duration":null,"segments_sector_1":[null,2048,2049,2049,2049,2049],"segments_sector_2":[2048],"segments_sector_3":null,"st_speed":null}');
-- laps quirk, every field but date_start null: 9606 driver 23 lap 16
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1246,"session_key":9606,"driver_number":23,"lap_number":16,"date_start":"2024-09-22T12:29:58.265000+00:00","duration_sector_1":null,"duration_sector_2":null,"duration_sector_3":null,"i1_speed":null,"i2_speed":null,"is_pit_out_lap":false,"lap_duration":null,"segments_sector_1":null,"segments_sector_2":null,"segments_sector_3":null,"st_speed":null}');
-- laps, hand-written edge case: lap 1 with a null date_start (the live API sends it so)
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1246,"session_key":9606,"driver_number":44,"lap_number":1,"date_start":null,"lap_duration":null,"is_pit_out_lap":false}');
SELECT session_key, driver_number, lap_number, date_start, lap_duration, duration_sector_1,
       duration_sector_2, duration_sector_3, i1_speed, i2_speed, st_speed, is_pit_out_lap,
       segments_sector_1, segments_sector_2, segments_sector_3, meeting_key,
       src_topic, src_partition, src_offset
FROM f1tel.laps ORDER BY 1, 2, 3;

-- position: 9189 and 9606, first records
SELECT * FROM f1tel.ingest_message('f1_position', '{"position":2,"driver_number":1,"date":"2023-11-19T05:50:05.914000+00:00","session_key":9189,"meeting_key":1225}');
SELECT * FROM f1tel.ingest_message('f1_position', '{"date":"2024-09-22T12:04:06.628000+00:00","session_key":9606,"driver_number":22,"meeting_key":1246,"position":9}');
-- hand-written edge case: a naive timestamp (no offset) is UTC, as the API wrote them until 2024
SELECT * FROM f1tel.ingest_message('f1_position', '{"position":3,"driver_number":1,"date":"2023-11-19T06:10:00.5","session_key":9189,"meeting_key":1225}');
SELECT session_key, driver_number, date, position, meeting_key FROM f1tel.position ORDER BY 1, 2, 3;

-- drivers: 9189 first record, and driver 3 whose headshot_url is null
SELECT * FROM f1tel.ingest_message('f1_drivers', '{"driver_number":1,"broadcast_name":"M VERSTAPPEN","full_name":"Max VERSTAPPEN","name_acronym":"VER","team_name":"Red Bull Racing","team_colour":"3671C6","first_name":"Max","last_name":"Verstappen","headshot_url":"https://www.formula1.com/content/dam/fom-website/drivers/M/MAXVER01_Max_Verstappen/maxver01.png.transform/1col/image.png","country_code":"NED","session_key":9189,"meeting_key":1225}');
SELECT * FROM f1tel.ingest_message('f1_drivers', '{"driver_number":3,"broadcast_name":"D RICCIARDO","full_name":"Daniel RICCIARDO","name_acronym":"RIC","team_name":"AlphaTauri","team_colour":"5E8FAA","first_name":"Daniel","last_name":"Ricciardo","headshot_url":null,"country_code":"AUS","session_key":9189,"meeting_key":1225}');
SELECT session_key, driver_number, meeting_key, broadcast_name, full_name, name_acronym, team_name,
       team_colour, first_name, last_name, left(headshot_url, 30) AS headshot_url, country_code
FROM f1tel.drivers ORDER BY 1, 2;

-- race_control: whole-second dates; 9189 and 9606 first records, and a sector flag
SELECT * FROM f1tel.ingest_message('f1-race_control', '{"date":"2023-11-19T05:57:18+00:00","category":"Drs","flag":null,"scope":null,"message":"DRS DISABLED","session_key":9189,"meeting_key":1225,"driver_number":null,"lap_number":1,"sector":null}');
SELECT * FROM f1tel.ingest_message('f1-race_control', '{"meeting_key":1246,"session_key":9606,"date":"2024-09-22T11:20:00+00:00","driver_number":null,"lap_number":1,"category":"Flag","flag":"GREEN","scope":"Track","sector":null,"message":"GREEN LIGHT - PIT EXIT OPEN"}');
SELECT * FROM f1tel.ingest_message('f1-race_control', '{"date":"2023-11-19T06:04:18+00:00","category":"Flag","flag":"YELLOW","scope":"Sector","message":"YELLOW IN TRACK SECTOR 2","session_key":9189,"meeting_key":1225,"driver_number":null,"lap_number":1,"sector":2}');
SELECT session_key, date, category, flag, scope, sector, lap_number, driver_number, message
FROM f1tel.race_control ORDER BY id;

-- sessions and meetings (9189's meeting_code is null)
SELECT * FROM f1tel.ingest_message('f1_sessions', '{"location":"Las Vegas","country_key":19,"country_code":"USA","country_name":"United States","circuit_key":152,"circuit_short_name":"Las Vegas","session_type":"Race","session_name":"Race","date_start":"2023-11-19T06:00:00+00:00","date_end":"2023-11-19T08:00:00+00:00","gmt_offset":"-08:00:00","session_key":9189,"meeting_key":1225,"year":2023}');
SELECT * FROM f1tel.ingest_message('f1_meetings', '{"meeting_name":"Las Vegas Grand Prix","meeting_official_name":"FORMULA 1 HEINEKEN SILVER LAS VEGAS GRAND PRIX 2023","location":"Las Vegas","country_key":19,"country_code":"USA","country_name":"United States","circuit_key":152,"circuit_short_name":"Las Vegas","date_start":"2023-11-17T04:30:00+00:00","gmt_offset":"-08:00:00","meeting_key":1225,"year":2023,"meeting_code":null}');
SELECT * FROM f1tel.ingest_message('f1_meetings', '{"meeting_key":1246,"circuit_key":61,"circuit_short_name":"Singapore","meeting_code":"SGP","location":"Marina Bay","country_key":157,"country_code":"SGP","country_name":"Singapore","meeting_name":"Singapore Grand Prix","meeting_official_name":"FORMULA 1 SINGAPORE AIRLINES SINGAPORE GRAND PRIX 2024","gmt_offset":"08:00:00","date_start":"2024-09-20T09:30:00+00:00","year":2024}');
SELECT session_key, meeting_key, session_name, session_type, date_start, date_end, location,
       country_key, country_code, country_name, circuit_key, circuit_short_name, gmt_offset, year
FROM f1tel.sessions;
SELECT meeting_key, meeting_name, meeting_official_name, meeting_code, location, country_key,
       country_code, country_name, circuit_key, circuit_short_name, gmt_offset, date_start, year
FROM f1tel.meetings ORDER BY 1;

-- car_data and location: 9189 car_data.json.gz record 1000, location.json.gz record 1000
SELECT * FROM f1tel.ingest_message('f1_car_data', '{"date":"2023-11-19T05:50:14.981000+00:00","session_key":9189,"speed":0,"rpm":0,"meeting_key":1225,"driver_number":1,"brake":0,"throttle":0,"drs":0,"n_gear":0}');
SELECT * FROM f1tel.ingest_message('f1_location', '{"date":"2023-11-19T05:51:26.744000+00:00","session_key":9189,"x":1859,"z":6064,"meeting_key":1225,"driver_number":11,"y":-862}');
-- car_data quirk: 9606 car_data.json.gz record 88189 has a null date, its key:
-- it cannot be stored under its natural key, so it goes to the dead letters
SELECT * FROM f1tel.ingest_message('f1_car_data', '{"date":null,"session_key":9606,"speed":176,"n_gear":4,"rpm":10869,"driver_number":1,"throttle":100,"brake":0,"drs":0,"meeting_key":1246}');
SELECT session_key, driver_number, date, meeting_key, rpm, speed, n_gear, throttle, brake, drs FROM f1tel.car_data;
SELECT session_key, driver_number, date, meeting_key, x, y, z FROM f1tel.location;

-- an API response as is: a JSON array of records (9189 position.json, records 1 and 2)
SELECT * FROM f1tel.ingest_message('f1_position', '[{"position":1,"driver_number":16,"date":"2023-11-19T05:50:05.914000+00:00","session_key":9189,"meeting_key":1225},{"position":3,"driver_number":55,"date":"2023-11-19T05:50:05.914000+00:00","session_key":9189,"meeting_key":1225}]');
SELECT * FROM f1tel.ingest_message('f1_position', '[]');
SELECT count(*) FROM f1tel.position;

-- idempotent by natural key: the same record again changes nothing, not even provenance
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1225,"session_key":9189,"driver_number":1,"lap_number":1,"date_start":"2023-11-19T06:04:05.009000+00:00","duration_sector_1":34.284,"duration_sector_2":33.497,"duration_sector_3":38.249,"i1_speed":176,"i2_speed":204,"is_pit_out_lap":false,"lap_duration":106.03,"segments_sector_1":[2048,2049,2051,2049,2051,2051],"segments_sector_2":[2051,2051,2051,2051,2049,2051,2051],"segments_sector_3":[2049,2049,2049,2049,2049,2049,2049,2051],"st_speed":278}', 'k', 0, 200);
SELECT * FROM f1tel.ingest_message('f1-race_control', '{"date":"2023-11-19T05:57:18+00:00","category":"Drs","flag":null,"scope":null,"message":"DRS DISABLED","session_key":9189,"meeting_key":1225,"driver_number":null,"lap_number":1,"sector":null}');
SELECT count(*) AS laps, max(src_offset) AS max_offset FROM f1tel.laps;
SELECT count(*) AS race_control FROM f1tel.race_control;
-- a later message for the same lap replaces the earlier one (hand-written: the
-- retired driver's lap 3 re-sent with a duration, as the live API fills laps in)
SELECT * FROM f1tel.ingest_message('f1_laps', '{"meeting_key":1225,"session_key":9189,"driver_number":4,"lap_number":3,"date_start":"2023-11-19T06:08:15.098000+00:00","duration_sector_1":29.696,"lap_duration":99.5,"is_pit_out_lap":false}', NULL, 1, 300);
SELECT driver_number, lap_number, lap_duration, duration_sector_1, segments_sector_1, src_partition, src_offset
FROM f1tel.laps WHERE session_key = 9189 AND driver_number = 4;
