--
-- The endpoint table in C (src/shared/endpoints.c, through f1tel.endpoints())
-- and the staging tables in SQL (src/ingest/schema.sql) are one contract
-- stated in two languages: this test fails when they disagree.
--
-- every data column of each staging table, in order (provenance columns and
-- race_control's generated id are the store's, not the API's)
CREATE TEMP VIEW staging_columns AS
SELECT c.relname AS endpoint,
	   row_number() OVER (PARTITION BY c.relname ORDER BY a.attnum)::integer AS ordinal,
	   a.attname::text AS column_name,
	   format_type(a.atttypid, a.atttypmod) AS column_type,
	   a.attnotnull AS not_null
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'f1tel'::regnamespace
   AND c.relname IN (SELECT endpoint FROM f1tel.endpoints())
   AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname NOT IN ('src_topic', 'src_partition', 'src_offset', 'ingested_at')
   AND NOT (c.relname = 'race_control' AND a.attname = 'id');
-- the columns of each table's natural key: its primary key (race_control's
-- is its generated id: it has no natural key, an identical record is stored once)
CREATE TEMP VIEW staging_keys AS
SELECT c.relname AS endpoint, a.attname::text AS column_name
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
 WHERE c.relnamespace = 'f1tel'::regnamespace AND i.indisprimary
   AND c.relname IN (SELECT endpoint FROM f1tel.endpoints())
   AND NOT (c.relname = 'race_control' AND a.attname = 'id');
-- differences: expect none
SELECT coalesce(e.endpoint, s.endpoint) AS endpoint, coalesce(e.ordinal, s.ordinal) AS ordinal,
	   e.column_name AS in_c, s.column_name AS in_sql, e.column_type AS c_type, s.column_type AS sql_type,
	   e.not_null AS c_not_null, s.not_null AS sql_not_null
  FROM f1tel.endpoints() e
  FULL JOIN staging_columns s ON s.endpoint = e.endpoint AND s.ordinal = e.ordinal
 WHERE e.column_name IS DISTINCT FROM s.column_name
	OR e.column_type IS DISTINCT FROM s.column_type
	OR e.not_null IS DISTINCT FROM s.not_null
 ORDER BY 1, 2;
-- the natural keys: the C key columns are the primary key
SELECT coalesce(e.endpoint, k.endpoint) AS endpoint, e.column_name AS key_in_c, k.column_name AS key_in_sql
  FROM (SELECT endpoint, column_name FROM f1tel.endpoints() WHERE is_key) e
  FULL JOIN staging_keys k ON k.endpoint = e.endpoint AND k.column_name = e.column_name
 WHERE e.column_name IS NULL OR k.column_name IS NULL
 ORDER BY 1, 2, 3;
-- what the table says, per endpoint: topic, columns, key
SELECT endpoint, topic, default_topic, count(*) AS columns,
	   string_agg(column_name, ', ' ORDER BY ordinal) FILTER (WHERE is_key) AS natural_key
  FROM f1tel.endpoints()
 GROUP BY endpoint, topic, default_topic
 ORDER BY endpoint;
-- every topic setting is an endpoint's, and the other way round
SELECT name FROM pg_settings WHERE name LIKE 'f1tel.topic\_%'
EXCEPT SELECT 'f1tel.topic_' || endpoint FROM f1tel.endpoints();
SELECT DISTINCT 'f1tel.topic_' || endpoint FROM f1tel.endpoints()
EXCEPT SELECT name FROM pg_settings WHERE name LIKE 'f1tel.topic\_%';
