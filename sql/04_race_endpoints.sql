--
-- The race endpoints through f1tel.ingest_message(), which runs the ingest
-- worker's decode and store code without Kafka: pit, stints, weather,
-- overtakes, session_result, starting_grid, intervals, team_radio,
-- championship_drivers and championship_teams, their typed rows (the gap
-- fields in their seconds, _laps and _q columns), and malformed records
-- dead-lettered with their reasons.
--
-- REAL records are copied verbatim from test/data/openf1/<session>/<endpoint>.json,
-- the source column names the file and the record's index in it (from 0).
-- HAND-WRITTEN records, labelled so, stand in for what the recorded sessions
-- do not have: intervals, team_radio and championship records, qualifying
-- arrays of three in session_result, pit records with lane_duration and
-- stop_duration instead of pit_duration, a weather date with a space for the
-- 'T', and every malformed record.  Their keys are the 2024 Singapore
-- race's (session 9606, its qualifying 9602, meeting 1246); their values
-- are made up.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 1;		-- the shortest text that reads back the same double

CREATE TEMP TABLE race_corpus (n serial, topic text, source text, payload text);
INSERT INTO race_corpus (topic, source, payload) VALUES
 -- pit: real, pit_duration only
 ('f1_pit', '9189/pit.json 0', '{"pit_duration":33.5,"lap_number":1,"driver_number":11,"date":"2023-11-19T06:06:40.131000+00:00","session_key":9189,"meeting_key":1225}'),
 ('f1_pit', '9189/pit.json 1', '{"pit_duration":29.3,"lap_number":1,"driver_number":14,"date":"2023-11-19T06:06:56.818000+00:00","session_key":9189,"meeting_key":1225}'),
 ('f1_pit', '9606/pit.json 0', '{"date":"2024-09-22T12:21:17.341000+00:00","session_key":9606,"pit_duration":30.3,"lap_number":10,"meeting_key":1246,"driver_number":3}'),
 ('f1_pit', '9606/pit.json 1', '{"date":"2024-09-22T12:22:52.705000+00:00","session_key":9606,"pit_duration":29.1,"lap_number":11,"meeting_key":1246,"driver_number":23}'),
 ('f1_pit', 'HAND-WRITTEN: lane_duration and stop_duration, no pit_duration', '{"date":"2024-09-22T12:40:00.500000+00:00","session_key":9606,"lane_duration":29.812,"stop_duration":2.4,"lap_number":30,"meeting_key":1246,"driver_number":4}'),
 -- stints: real
 ('f1_stints', '9189/stints.json 0', '{"meeting_key":1225,"session_key":9189,"stint_number":1,"driver_number":1,"lap_start":1,"lap_end":16,"compound":"MEDIUM","tyre_age_at_start":0}'),
 ('f1_stints', '9189/stints.json 1', '{"meeting_key":1225,"session_key":9189,"stint_number":2,"driver_number":1,"lap_start":17,"lap_end":26,"compound":"HARD","tyre_age_at_start":0}'),
 ('f1_stints', '9606/stints.json 0', '{"meeting_key":1246,"session_key":9606,"stint_number":1,"driver_number":1,"lap_start":1,"lap_end":29,"compound":"MEDIUM","tyre_age_at_start":0}'),
 ('f1_stints', '9606/stints.json 1', '{"meeting_key":1246,"session_key":9606,"stint_number":2,"driver_number":1,"lap_start":30,"lap_end":62,"compound":"HARD","tyre_age_at_start":0}'),
 -- weather: real, and a hand-written date with a space
 ('f1_weather', '9189/weather.json 0', '{"air_temperature":18.1,"humidity":45.0,"pressure":940.2,"rainfall":0,"track_temperature":20.3,"wind_direction":227,"wind_speed":2.5,"date":"2023-11-19T05:50:08.851000+00:00","session_key":9189,"meeting_key":1225}'),
 ('f1_weather', '9189/weather.json 1', '{"air_temperature":18.0,"humidity":46.0,"pressure":940.2,"rainfall":0,"track_temperature":19.5,"wind_direction":246,"wind_speed":2.9,"date":"2023-11-19T05:51:08.850000+00:00","session_key":9189,"meeting_key":1225}'),
 ('f1_weather', '9606/weather.json 0', '{"date":"2024-09-22T11:07:46.576000+00:00","session_key":9606,"meeting_key":1246,"track_temperature":37.6,"rainfall":0,"wind_speed":0.6,"humidity":74.0,"pressure":1006.9,"air_temperature":31.0,"wind_direction":0}'),
 ('f1_weather', 'HAND-WRITTEN: a date with a space for the T', '{"date":"2024-09-22 11:08:46.576000+00:00","session_key":9606,"meeting_key":1246,"track_temperature":37.5,"rainfall":0,"wind_speed":0.7,"humidity":74.0,"pressure":1006.9,"air_temperature":31.0,"wind_direction":10}'),
 -- overtakes: real
 ('f1_overtakes', '9189/overtakes.json 0', '{"meeting_key":1225,"session_key":9189,"overtaking_driver_number":1,"overtaken_driver_number":16,"date":"2023-11-19T06:04:17.743000+00:00","position":1}'),
 ('f1_overtakes', '9606/overtakes.json 0', '{"meeting_key":1246,"session_key":9606,"overtaking_driver_number":16,"overtaken_driver_number":22,"date":"2024-09-22T12:04:06.628000+00:00","position":8}'),
 -- session_result: real race rows (the winner's integer 0, a float, "+1 LAP", a retirement)
 ('f1_session_result', '9189/session_result.json 0', '{"position":1,"driver_number":1,"number_of_laps":50,"dnf":false,"dns":false,"dsq":false,"duration":5348.289,"gap_to_leader":0,"meeting_key":1225,"session_key":9189,"points":25.0}'),
 ('f1_session_result', '9606/session_result.json 0', '{"position":1,"driver_number":4,"number_of_laps":62,"dnf":false,"dns":false,"dsq":false,"duration":6052.571,"gap_to_leader":0,"meeting_key":1246,"session_key":9606,"points":25.0}'),
 ('f1_session_result', '9606/session_result.json 1', '{"position":2,"driver_number":1,"number_of_laps":62,"dnf":false,"dns":false,"dsq":false,"duration":6073.516,"gap_to_leader":20.945,"meeting_key":1246,"session_key":9606,"points":18.0}'),
 ('f1_session_result', '9606/session_result.json 7', '{"position":8,"driver_number":14,"number_of_laps":61,"dnf":false,"dns":false,"dsq":false,"duration":null,"gap_to_leader":"+1 LAP","meeting_key":1246,"session_key":9606,"points":4.0}'),
 ('f1_session_result', '9606/session_result.json 19', '{"position":null,"driver_number":23,"number_of_laps":15,"dnf":true,"dns":false,"dsq":false,"duration":null,"gap_to_leader":null,"meeting_key":1246,"session_key":9606,"points":0.0}'),
 -- session_result of a qualifying session: arrays of three (Q1, Q2, Q3)
 ('f1_session_result', 'HAND-WRITTEN: qualifying, pole', '{"position":1,"driver_number":4,"number_of_laps":18,"dnf":false,"dns":false,"dsq":false,"duration":[90.432,89.817,89.525],"gap_to_leader":[0,0,0],"meeting_key":1246,"session_key":9602}'),
 ('f1_session_result', 'HAND-WRITTEN: qualifying, a null Q2', '{"position":3,"driver_number":44,"number_of_laps":18,"dnf":false,"dns":false,"dsq":false,"duration":[89.5,null,88.1],"gap_to_leader":[0.412,null,0.316],"meeting_key":1246,"session_key":9602}'),
 ('f1_session_result', 'HAND-WRITTEN: qualifying, out in Q1', '{"position":20,"driver_number":24,"number_of_laps":7,"dnf":false,"dns":false,"dsq":false,"duration":[91.054,null,null],"gap_to_leader":[0.622,null,null],"meeting_key":1246,"session_key":9602}'),
 -- starting_grid: real, filed under the qualifying session's key (9314, 9602);
 -- positions 9 and 10 of 9606 have a null lap_duration, sent as one API response
 ('f1_starting_grid', '9189/starting_grid.json 0', '{"position":1,"driver_number":16,"lap_duration":92.726,"meeting_key":1225,"session_key":9314}'),
 ('f1_starting_grid', '9606/starting_grid.json 0', '{"position":1,"driver_number":4,"lap_duration":89.525,"meeting_key":1246,"session_key":9602}'),
 ('f1_starting_grid', '9606/starting_grid.json 8-9, one array', '[{"position":9,"driver_number":16,"lap_duration":null,"meeting_key":1246,"session_key":9602},{"position":10,"driver_number":55,"lap_duration":null,"meeting_key":1246,"session_key":9602}]'),
 -- intervals: none recorded
 ('f1_intervals', 'HAND-WRITTEN: seconds', '{"date":"2024-09-22T13:00:00.123000+00:00","session_key":9606,"gap_to_leader":41.019,"interval":0.903,"driver_number":81,"meeting_key":1246}'),
 ('f1_intervals', 'HAND-WRITTEN: +1 LAP to the leader', '{"date":"2024-09-22T13:00:00.123000+00:00","session_key":9606,"gap_to_leader":"+1 LAP","interval":5.25,"driver_number":14,"meeting_key":1246}'),
 ('f1_intervals', 'HAND-WRITTEN: +2 LAPS and +1 LAP', '{"date":"2024-09-22T13:00:00.123000+00:00","session_key":9606,"gap_to_leader":"+2 LAPS","interval":"+1 LAP","driver_number":24,"meeting_key":1246}'),
 ('f1_intervals', 'HAND-WRITTEN: the leader', '{"date":"2024-09-22T13:00:00.123000+00:00","session_key":9606,"gap_to_leader":null,"interval":null,"driver_number":4,"meeting_key":1246}'),
 -- team_radio and the championships: none recorded
 ('f1_team_radio', 'HAND-WRITTEN', '{"date":"2024-09-22T12:10:00.250000+00:00","driver_number":4,"session_key":9606,"meeting_key":1246,"recording_url":"https://example.invalid/team_radio/4_121000.mp3"}'),
 ('f1_championship_drivers', 'HAND-WRITTEN', '{"meeting_key":1246,"session_key":9606,"driver_number":4,"position_start":2,"position_current":2,"points_start":100.0,"points_current":125}'),
 ('f1_championship_teams', 'HAND-WRITTEN', '{"meeting_key":1246,"session_key":9606,"team_name":"McLaren","position_start":1,"position_current":1,"points_start":200.0,"points_current":244.0}'),
 ('f1_championship_teams', 'HAND-WRITTEN', '{"meeting_key":1246,"session_key":9606,"team_name":"Red Bull Racing","position_start":2,"position_current":2,"points_start":190.5,"points_current":205.5}'),
 -- malformed, one or more of each kind: all HAND-WRITTEN, each a dead letter
 ('f1_intervals', 'HAND-WRITTEN bad: lower-case lap', '{"date":"2024-09-22T13:00:04Z","session_key":9606,"gap_to_leader":"+1 lap","driver_number":14}'),
 ('f1_intervals', 'HAND-WRITTEN bad: an array in a race', '{"date":"2024-09-22T13:00:04Z","session_key":9606,"interval":[0.5,null,0.7],"driver_number":14}'),
 ('f1_intervals', 'HAND-WRITTEN bad: +0 LAP', '{"date":"2024-09-22T13:00:04Z","session_key":9606,"gap_to_leader":"+0 LAP","driver_number":14}'),
 ('f1_pit', 'HAND-WRITTEN bad: no lap_number', '{"date":"2024-09-22T12:40:00Z","session_key":9606,"lane_duration":29.8,"driver_number":4}'),
 ('f1_stints', 'HAND-WRITTEN bad: compound a number', '{"session_key":9606,"stint_number":3,"driver_number":1,"compound":3}'),
 ('f1_weather', 'HAND-WRITTEN bad: not a date', '{"date":"yesterday","session_key":9606,"air_temperature":31.0}'),
 ('f1_weather', 'HAND-WRITTEN bad: no date', '{"session_key":9606,"air_temperature":31.0}'),
 ('f1_session_result', 'HAND-WRITTEN bad: an array of 4', '{"driver_number":44,"session_key":9602,"duration":[89.5,null,88.1,87.9]}'),
 ('f1_session_result', 'HAND-WRITTEN bad: a string in the array', '{"driver_number":44,"session_key":9602,"gap_to_leader":[0.412,"+0.1",null]}'),
 ('f1_session_result', 'HAND-WRITTEN bad: +1 LAP as a duration', '{"driver_number":14,"session_key":9606,"duration":"+1 LAP"}'),
 ('f1_starting_grid', 'HAND-WRITTEN bad: position 0', '{"position":0,"driver_number":4,"session_key":9602}'),
 ('f1_overtakes', 'HAND-WRITTEN bad: no overtaken driver', '{"session_key":9606,"overtaking_driver_number":16,"date":"2024-09-22T12:05:00Z"}'),
 ('f1_team_radio', 'HAND-WRITTEN bad: an object for a URL', '{"date":"2024-09-22T12:10:00Z","driver_number":4,"session_key":9606,"recording_url":{"href":"x"}}'),
 ('f1_championship_drivers', 'HAND-WRITTEN bad: position 101', '{"session_key":9606,"driver_number":4,"position_current":101}'),
 ('f1_championship_teams', 'HAND-WRITTEN bad: a null team', '{"session_key":9606,"team_name":null,"points_current":1.0}'),
 -- all or nothing: a real record (9189/overtakes.json 1) with a bad one, neither stored
 ('f1_overtakes', '9189/overtakes.json 1 + HAND-WRITTEN bad', '[{"meeting_key":1225,"session_key":9189,"overtaking_driver_number":20,"overtaken_driver_number":77,"date":"2023-11-19T06:04:19.008000+00:00","position":7},{"session_key":9189,"overtaking_driver_number":20,"overtaken_driver_number":77,"date":"2023-11-19T06:04:20Z","position":"7"}]');

SELECT n, topic, source, m.rows_stored, m.dead_letter IS NOT NULL AS dead
  FROM race_corpus, LATERAL f1tel.ingest_message(topic, payload, NULL::text, 4, 2000 + n) m
 ORDER BY n;

-- the typed rows; n is the corpus row each came from
SELECT session_key, driver_number, lap_number, date, pit_duration, lane_duration, stop_duration,
       meeting_key, src_offset - 2000 AS n
  FROM f1tel.pit ORDER BY 1, 2, 3;
SELECT session_key, driver_number, stint_number, lap_start, lap_end, compound, tyre_age_at_start,
       meeting_key, src_offset - 2000 AS n
  FROM f1tel.stints ORDER BY 1, 2, 3;
SELECT session_key, date, air_temperature, track_temperature, humidity, pressure, rainfall,
       wind_direction, wind_speed, meeting_key, src_offset - 2000 AS n
  FROM f1tel.weather ORDER BY 1, 2;
SELECT session_key, date, overtaking_driver_number, overtaken_driver_number, position,
       meeting_key, src_offset - 2000 AS n
  FROM f1tel.overtakes ORDER BY 1, 2, 3, 4;
-- a race's gaps in seconds or laps, a qualifying's in the _q arrays
SELECT session_key, driver_number, position, number_of_laps, dnf, dns, dsq, duration, duration_q,
       gap_to_leader, gap_to_leader_laps, gap_to_leader_q, points, src_offset - 2000 AS n
  FROM f1tel.session_result ORDER BY 1, 2;
-- the arrays hold the very doubles of the JSON, NULLs where it has null
SELECT driver_number, duration_q[1] = 89.5 AND duration_q[2] IS NULL AND duration_q[3] = 88.1 AS q_exact,
       array_length(duration_q, 1) AS q_len, gap_to_leader_q[3] = 0.316 AS gap_exact
  FROM f1tel.session_result WHERE session_key = 9602 AND driver_number = 44;
SELECT session_key, driver_number, position, lap_duration, meeting_key, src_offset - 2000 AS n
  FROM f1tel.starting_grid ORDER BY 1, 2;
SELECT session_key, driver_number, date, gap_to_leader, gap_to_leader_laps, "interval", interval_laps,
       meeting_key, src_offset - 2000 AS n
  FROM f1tel.intervals ORDER BY 1, 2, 3;
SELECT session_key, driver_number, date, recording_url, meeting_key FROM f1tel.team_radio ORDER BY 1, 2, 3;
SELECT session_key, driver_number, position_start, position_current, points_start, points_current,
       meeting_key FROM f1tel.championship_drivers ORDER BY 1, 2;
SELECT session_key, team_name, position_start, position_current, points_start, points_current,
       meeting_key FROM f1tel.championship_teams ORDER BY 1, 2;

-- every malformed message is a dead letter with its topic, payload and reason
SELECT d."offset" - 2000 AS n, d.topic, convert_from(d.payload, 'UTF8') = c.payload AS payload_kept,
       d.reason
  FROM f1tel.dead_letters d JOIN race_corpus c ON c.n = d."offset" - 2000
 WHERE d.partition = 4 AND d."offset" > 2000
 ORDER BY d."offset";
SELECT count(*) AS bad, count(*) FILTER (WHERE EXISTS (
         SELECT 1 FROM f1tel.dead_letters d WHERE d.partition = 4 AND d."offset" = 2000 + c.n)) AS dead_lettered
  FROM race_corpus c WHERE source LIKE '%bad%';
-- the all-or-nothing message stored neither record
SELECT count(*) AS overtakes_9189_at_06_04_19 FROM f1tel.overtakes
 WHERE session_key = 9189 AND date >= '2023-11-19 06:04:19+00';

-- the enrichment's triggers kept driver_laps equal to its view throughout
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;

-- leave the race tables as they were for the tests that follow
DELETE FROM f1tel.pit WHERE src_partition = 4;
DELETE FROM f1tel.stints WHERE src_partition = 4;
DELETE FROM f1tel.weather WHERE src_partition = 4;
DELETE FROM f1tel.overtakes WHERE src_partition = 4;
DELETE FROM f1tel.session_result WHERE src_partition = 4;
DELETE FROM f1tel.starting_grid WHERE src_partition = 4;
DELETE FROM f1tel.intervals WHERE src_partition = 4;
DELETE FROM f1tel.team_radio WHERE src_partition = 4;
DELETE FROM f1tel.championship_drivers WHERE src_partition = 4;
DELETE FROM f1tel.championship_teams WHERE src_partition = 4;
DELETE FROM f1tel.dead_letters WHERE partition = 4 AND "offset" > 2000;
SELECT count(*) AS drift FROM f1tel.driver_laps_drift;
