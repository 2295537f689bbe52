"""test/bench/flink/job.py: the seed's pipeline as a PyFlink job, the Flink peer
of f1tel's benchmark (test/bench/flink_peer.py runs it; README.md here).

What it does, as the seed's job did (PyFlink Table API / SQL, streaming,
parallelism 1, one job of three INSERTs):
  - four Kafka source tables, JSON, parse errors ignored, read from the
    earliest offset: laps (f1_laps), position (f1_position), drivers
    (f1_drivers), race_control (f1-race_control); each with a time column
    ts (laps: date_start, the others: date) and a watermark ts - 5 s, but
    drivers, whose records have no time;
  - the positions deduplicated to the latest per (driver_number,
    session_key) with ROW_NUMBER() OVER (... ORDER BY ts DESC) = 1, written
    to an upsert-kafka topic (--upsert-topic) and read back from it as a
    versioned table (primary key + watermark);
  - laps LEFT JOIN that table FOR SYSTEM_TIME AS OF laps.date_start (an
    event-time temporal join: the position held when the lap started) and
    LEFT JOIN drivers on (driver_number, session_key); laps without a
    position are dropped; the rest go to a JDBC upsert sink, the table
    flink.driver_laps keyed by (session_key, driver_number, lap_number),
    flushed every row;
  - race_control to a second JDBC sink (flink.race_control, append).
flink_peer.py creates both tables (and the upsert topic) before it starts
this job; see its header for how the run is timed and measured.

Things a reader must know:
  - OpenF1 times are ISO 8601 with an offset ("2023-11-19T06:04:05.009000
    +00:00", race_control without the fraction). Flink's JSON format cannot
    read that offset into a TIMESTAMP, so each time is read as a STRING and
    converted in a computed column (the "+00:00"/"Z" dropped: OpenF1 is UTC).
    The job runs with table.local-time-zone UTC and writes timestamp columns
    (UTC) to PostgreSQL.
  - The temporal join emits a lap only when the watermark of both inputs
    has passed its date_start: on a backlog that ends, the last laps are
    never written (the seed's design: they wait for more data). A Kafka
    source's watermark is the minimum over
    its partitions, so with more partitions than keys the empty ones hold it
    back forever: --idle-timeout-ms ('scan.watermark.idle-timeout' of the
    four source topics, default 1000; 0 = off, as in the seed) lets it
    advance without them. The upsert topic read back has none: idle, it
    would let laps pass before their positions came back from Kafka. The
    same timeout lets the last laps out at the end of a backlog once the
    laps topic goes idle: then the positions' watermark alone decides, and
    only laps after the newest position minus 5 s stay unwritten.
  - It needs each topic in time order: one partition per topic (Redpanda
    and Kafka create a topic on first use with one by default). With more,
    a backlog is not read in time order across partitions: the deduplicated
    positions reach the upsert topic out of order, its watermark runs ahead,
    and laps are joined before their drivers' positions are back (dropped,
    or given an older position).
  - Nothing else is buffered: JDBC flushes every row ('sink.buffer-flush.
    max-rows' = 1, one commit per row), the upsert-kafka producer sends at
    once (linger 0); no checkpoints, so a restart reads the topics again
    from the beginning and the upserts converge.
  - On start it prints "F1TEL_FLINK_SUBMITTED <epoch seconds> <job id>" on
    stdout once the job is submitted, then waits for the job forever.
Usage: python job.py --brokers H:P --jdbc-url jdbc:postgresql://H:P/DB
       [--user U] [--password P | $F1TEL_FLINK_PG_PASSWORD] --jars 'file:///a.jar;file:///b.jar' [...]
"""

import argparse
import os
import sys
import time

from pyflink.table import EnvironmentSettings, TableEnvironment


def kafka_source(name, topic, columns, time_col, args, watermark=True):
    """A JSON Kafka source table with a computed ts column (TIMESTAMP(3), UTC)."""
    ts, idle = "", ""
    if time_col and args.idle_timeout_ms > 0:
        idle = ",\n  'scan.watermark.idle-timeout' = '%d ms'" % args.idle_timeout_ms
    if time_col:
        # TRY_CAST: a time that is not one gives NULL, not a failed job
        ts = (",\n  ts AS TRY_CAST(REPLACE(REGEXP_REPLACE(`%s`, '(Z|[+-]00:?00)$', ''), 'T', ' ')"
              " AS TIMESTAMP(3))" % time_col)
        if watermark:
            ts += ",\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"
    cols = ["`%s` %s" % tuple(c.replace("`", "").split(" ", 1)) for c in columns]
    return """
CREATE TABLE `%s` (
  %s%s
) WITH (
  'connector' = 'kafka',
  'topic' = '%s',
  'properties.bootstrap.servers' = '%s',
  'properties.group.id' = '%s',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true',
  'json.fail-on-missing-field' = 'false'%s
)""" % (name, ",\n  ".join(cols), ts, topic, args.brokers, args.group_id, idle)


def jdbc_options(args, table):
    opts = {
        "connector": "jdbc",
        "url": args.jdbc_url,
        "table-name": table,
        "sink.buffer-flush.max-rows": "1",
        "sink.buffer-flush.interval": "0",
        "sink.max-retries": "3",
    }
    if args.password:
        opts["username"] = args.user
        opts["password"] = args.password
    elif args.user:
        # the connector takes both or neither: a user without one (trust) goes in the URL
        opts["url"] += ("&" if "?" in opts["url"] else "?") + "user=" + args.user
    return ",\n  ".join("'%s' = '%s'" % kv for kv in opts.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--jdbc-url", required=True)
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default=os.environ.get("F1TEL_FLINK_PG_PASSWORD", ""),
                    help="default: $F1TEL_FLINK_PG_PASSWORD (flink_peer.py passes it so)")
    ap.add_argument("--jars", required=True, help="pipeline.jars: file:// URLs joined by ';'")
    ap.add_argument("--group-id", default="f1tel-bench-flink")
    ap.add_argument("--upsert-topic", default="flink_position_latest")
    ap.add_argument("--topic-laps", default="f1_laps")
    ap.add_argument("--topic-position", default="f1_position")
    ap.add_argument("--topic-drivers", default="f1_drivers")
    ap.add_argument("--topic-race-control", default="f1-race_control")
    ap.add_argument("--idle-timeout-ms", type=int, default=1000)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--explain", action="store_true", help="print the plan and exit")
    args = ap.parse_args()

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    cfg = env.get_config()
    cfg.set("pipeline.jars", args.jars)
    cfg.set("parallelism.default", str(args.parallelism))
    cfg.set("table.exec.resource.default-parallelism", str(args.parallelism))
    cfg.set("table.local-time-zone", "UTC")
    cfg.set("pipeline.name", "f1tel-bench-flink (the seed's job)")

    env.execute_sql(kafka_source("laps", args.topic_laps, [
        "session_key INT", "meeting_key INT", "driver_number INT", "lap_number INT",
        "date_start STRING", "lap_duration DOUBLE", "duration_sector_1 DOUBLE",
        "duration_sector_2 DOUBLE", "duration_sector_3 DOUBLE", "i1_speed INT", "i2_speed INT",
        "st_speed INT", "is_pit_out_lap BOOLEAN"], "date_start", args))
    env.execute_sql(kafka_source("position", args.topic_position, [
        "session_key INT", "meeting_key INT", "driver_number INT", "`position` INT",
        "`date` STRING"], "date", args))
    env.execute_sql(kafka_source("drivers", args.topic_drivers, [
        "session_key INT", "meeting_key INT", "driver_number INT", "broadcast_name STRING",
        "full_name STRING", "name_acronym STRING", "team_name STRING", "team_colour STRING",
        "first_name STRING", "last_name STRING", "headshot_url STRING", "country_code STRING"],
        None, args))
    env.execute_sql(kafka_source("race_control", args.topic_race_control, [
        "session_key INT", "meeting_key INT", "`date` STRING", "driver_number INT",
        "lap_number INT", "sector INT", "category STRING", "flag STRING", "scope STRING",
        "message STRING"], "date", args))

    # the latest position per driver and session, as an upsert topic: written ...
    upsert_with = """
  'connector' = 'upsert-kafka',
  'topic' = '%s',
  'properties.bootstrap.servers' = '%s',
  'properties.group.id' = '%s-upsert',
  'key.format' = 'json',
  'value.format' = 'json',
  'value.json.ignore-parse-errors' = 'true'""" % (args.upsert_topic, args.brokers, args.group_id)
    env.execute_sql("""
CREATE TABLE position_latest_sink (
  driver_number INT, session_key INT, meeting_key INT, `position` INT, `date` TIMESTAMP(3),
  PRIMARY KEY (driver_number, session_key) NOT ENFORCED
) WITH (%s)""" % upsert_with)
    # ... and read back as a versioned table (primary key + event time)
    env.execute_sql("""
CREATE TABLE position_latest (
  driver_number INT, session_key INT, meeting_key INT, `position` INT, `date` TIMESTAMP(3),
  PRIMARY KEY (driver_number, session_key) NOT ENFORCED,
  WATERMARK FOR `date` AS `date` - INTERVAL '5' SECOND
) WITH (%s)""" % upsert_with)

    env.execute_sql("""
CREATE TABLE driver_laps_sink (
  session_key INT, driver_number INT, lap_number INT, date_start TIMESTAMP(3),
  lap_duration DOUBLE, st_speed INT, is_pit_out_lap BOOLEAN, `position` INT,
  name_acronym STRING, team_name STRING,
  PRIMARY KEY (session_key, driver_number, lap_number) NOT ENFORCED
) WITH (
  %s
)""" % jdbc_options(args, "flink.driver_laps"))
    env.execute_sql("""
CREATE TABLE race_control_sink (
  session_key INT, meeting_key INT, `date` TIMESTAMP(3), driver_number INT, lap_number INT,
  sector INT, category STRING, flag STRING, `scope` STRING, message STRING
) WITH (
  %s
)""" % jdbc_options(args, "flink.race_control"))

    # the temporal join gives each lap the position held at its date_start; the
    # rowtime is cast to a plain TIMESTAMP before the regular join with drivers
    # (a regular join takes no time attributes)
    env.execute_sql("""
CREATE TEMPORARY VIEW laps_positioned AS
SELECT l.session_key, l.driver_number, l.lap_number, CAST(l.ts AS TIMESTAMP(3)) AS date_start,
       l.lap_duration, l.st_speed, l.is_pit_out_lap, p.`position`
  FROM laps AS l
  LEFT JOIN position_latest FOR SYSTEM_TIME AS OF l.ts AS p
    ON l.driver_number = p.driver_number AND l.session_key = p.session_key""")

    stmts = env.create_statement_set()
    stmts.add_insert_sql("""
INSERT INTO position_latest_sink
SELECT driver_number, session_key, meeting_key, `position`, `date`
  FROM (SELECT driver_number, session_key, meeting_key, `position`, ts AS `date`,
               ROW_NUMBER() OVER (PARTITION BY driver_number, session_key ORDER BY ts DESC) AS rn
          FROM `position`)
 WHERE rn = 1""")
    stmts.add_insert_sql("""
INSERT INTO driver_laps_sink
SELECT lp.session_key, lp.driver_number, lp.lap_number, lp.date_start, lp.lap_duration,
       lp.st_speed, lp.is_pit_out_lap, lp.`position`, d.name_acronym, d.team_name
  FROM laps_positioned AS lp
  LEFT JOIN drivers AS d
    ON lp.driver_number = d.driver_number AND lp.session_key = d.session_key
 WHERE lp.`position` IS NOT NULL""")
    stmts.add_insert_sql("""
INSERT INTO race_control_sink
SELECT session_key, meeting_key, CAST(ts AS TIMESTAMP(3)), driver_number, lap_number, sector,
       category, flag, `scope`, message
  FROM race_control""")

    if args.explain:
        print(stmts.explain())
        return 0
    result = stmts.execute()
    job = result.get_job_client()
    print("F1TEL_FLINK_SUBMITTED %.6f %s" % (time.time(), job.get_job_id() if job else "?"),
          flush=True)
    result.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
