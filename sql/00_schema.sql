--
-- The ingest stage's schema and settings.
--
SELECT c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'f1tel' AND c.relkind IN ('r', 'v')
  AND c.relname IN ('laps', 'position', 'drivers', 'race_control', 'sessions', 'meetings',
                    'car_data', 'location', 'dead_letters', 'kafka_offsets', 'ingest_status',
                    'workers')
ORDER BY 1;

-- staging tables: typed after the API's fields, with provenance columns
SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema = 'f1tel'
  AND table_name IN ('laps', 'position', 'drivers', 'race_control', 'sessions', 'meetings',
                     'car_data', 'location')
ORDER BY table_name, ordinal_position;

-- natural keys
SELECT conrelid::regclass AS "table", conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE connamespace = 'f1tel'::regnamespace AND contype IN ('p', 'u')
  AND conrelid::regclass::text IN ('f1tel.laps', 'f1tel.position', 'f1tel.drivers',
        'f1tel.race_control', 'f1tel.sessions', 'f1tel.meetings', 'f1tel.car_data',
        'f1tel.location', 'f1tel.kafka_offsets')
ORDER BY 1, 2;

-- every GUC with its default and when it takes effect
SELECT name, boot_val, unit, context FROM pg_settings WHERE name LIKE 'f1tel.%' ORDER BY name;

-- a bad setting is refused with the reason, and the old value stays
ALTER SYSTEM SET f1tel.kafka_config = 'securty.protocol=SASL_SSL';
ALTER SYSTEM SET f1tel.kafka_config = 'group.id=other';
ALTER SYSTEM SET f1tel.kafka_config = 'no equals sign';
ALTER SYSTEM SET f1tel.kafka_config = 'security.protocol=carrier-pigeon';
ALTER SYSTEM SET f1tel.kafka_config = 'sasl.username=user\,with\,commas, fetch.wait.max.ms=50';
-- secrets belong in f1tel.kafka_config_file; no value is ever echoed
ALTER SYSTEM SET f1tel.kafka_config = 'security.protocol=SASL_SSL, sasl.password=s3cr3t';
ALTER SYSTEM SET f1tel.kafka_config = 'sasl.username=user,s3cr3t_tail';
ALTER SYSTEM RESET f1tel.kafka_config;
ALTER SYSTEM SET f1tel.kafka_config_file = '/nonexistent/kafka.properties';
ALTER SYSTEM SET f1tel.topic_laps = 'bad topic name';
ALTER SYSTEM SET f1tel.brokers = '';
ALTER SYSTEM SET f1tel.ingest_workers = 99;
-- f1tel.kafka_config may hold secrets: hidden from non-superusers
CREATE ROLE regress_f1tel_someone;
SET ROLE regress_f1tel_someone;
SHOW f1tel.kafka_config;
SHOW f1tel.brokers;
RESET ROLE;
DROP ROLE regress_f1tel_someone;
