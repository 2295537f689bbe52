--
-- A corpus of bad messages (hand-written edge cases): each one goes to
-- f1tel.dead_letters with its payload and the reason, and nothing of it is stored.
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
TRUNCATE f1tel.dead_letters;
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM f1tel.laps) AS laps, (SELECT count(*) FROM f1tel.position) AS position,
       (SELECT count(*) FROM f1tel.car_data) AS car_data, (SELECT count(*) FROM f1tel.drivers) AS drivers;

CREATE TEMP TABLE corpus (n serial, topic text, payload bytea);
INSERT INTO corpus (topic, payload) VALUES
 ('f1_laps', convert_to('not json at all', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7} trailing', 'UTF8')),
 ('f1_laps', ''::bytea),
 ('f1_laps', NULL),
 ('f1_laps', convert_to('42', 'UTF8')),
 ('f1_laps', convert_to('"a string"', 'UTF8')),
 ('f1_laps', convert_to('[1, 2]', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":null}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":"1","lap_number":7}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7.5}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"lap_duration":"fast"}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"is_pit_out_lap":1}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"segments_sector_1":[2048,"x"]}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"segments_sector_1":2048}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":-1}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1099511627776,"lap_number":7}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":99999999999999999999999,"driver_number":1,"lap_number":7}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"date_start":"2023-13-19T06:04:05"}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"date_start":"2023-02-30T06:04:05Z"}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"date_start":"yesterday"}', 'UTF8')),
 ('f1_position', convert_to('{"session_key":9189,"driver_number":1,"date":"2023-11-19T06:00:00Z","position":0}', 'UTF8')),
 ('f1_position', convert_to('{"session_key":9189,"driver_number":1,"date":"2023-11-19T06:00:00Z","position":null}', 'UTF8')),
 ('f1_drivers', convert_to('{"session_key":9189,"driver_number":1,"full_name":"nul\u0000byte"}', 'UTF8')),
 ('f1_drivers', '\x7b2273657373696f6e5f6b6579223a393138392c226472697665725f6e756d626572223a312c2266756c6c5f6e616d65223a22ff227d'::bytea),
 ('f1_car_data', convert_to('{"session_key":9606,"driver_number":1,"date":null,"rpm":10869}', 'UTF8')),
 -- half valid: the first record is good, the second is not; neither is stored
 ('f1_position', convert_to('[{"position":5,"driver_number":44,"date":"2023-11-19T06:00:00Z","session_key":9189,"meeting_key":1225},{"position":6,"driver_number":63,"session_key":9189}]', 'UTF8')),
 -- a topic that no f1tel.topic_* setting names (f1_weather is an endpoint's now)
 ('f1_tyre_pressure', convert_to('{"session_key":9189,"air_temperature":18.5}', 'UTF8')),
 ('f1_laps', convert_to('{"session_key":9189,"driver_number":1,"lap_number":7,"note":"' || repeat('x', 1100000) || '"}', 'UTF8'));

SELECT n, m.*
FROM corpus, LATERAL f1tel.ingest_message(topic, payload, convert_to('key-' || n, 'UTF8'), 3, 1000 + n) m
ORDER BY n;

-- every one is a dead letter, with its topic, partition, offset, key and payload
SELECT d."offset" - 1000 AS n, d.topic, d.partition, convert_from(d.key, 'UTF8') AS key,
       d.payload IS NOT DISTINCT FROM c.payload AS payload_kept, d.reason
FROM f1tel.dead_letters d JOIN corpus c ON c.n = d."offset" - 1000
ORDER BY d."offset";
SELECT count(*) = (SELECT count(*) FROM corpus) AS all_dead_lettered FROM f1tel.dead_letters;

-- and nothing of them was stored
SELECT (SELECT count(*) FROM f1tel.laps) - laps AS laps, (SELECT count(*) FROM f1tel.position) - position AS position,
       (SELECT count(*) FROM f1tel.car_data) - car_data AS car_data, (SELECT count(*) FROM f1tel.drivers) - drivers AS drivers
FROM before;
