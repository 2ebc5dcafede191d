-- The 15 TSBS devops "cpu-only" queries, written for the single wide `cpu` table that
-- `cargo bench --bench tsbs -- generate` produces (10 tags, ts every 10 s from
-- 2016-01-01 00:00:00 UTC, 10 usage_* fields).
--
-- TSBS picks random hosts and time windows for every query instance; here they are fixed so
-- that every engine does the same work. Every window starts within the first three hours, so
-- the 1000 hosts x 3 h data set is hit too (a 12 h or 8 h window then covers all of it).
--
-- Only standard SQL plus date_trunc('minute' | 'hour', ts) and TIMESTAMP '...' literals, so
-- tsdb (DataFusion) and DuckDB run the text unchanged. For SQLite, bench/run.py rewrites
--   date_trunc('minute', ts) -> strftime('%Y-%m-%d %H:%M:00', ts)
--   date_trunc('hour', ts)   -> strftime('%Y-%m-%d %H:00:00', ts)
--   TIMESTAMP '...'          -> '...'          (SQLite stores ts as ISO-8601 text)
--
-- Naming (TSBS): single-groupby-M-H-T = max of M metrics of H hosts over T hours in 1-minute
-- buckets; cpu-max-all-H = hourly max of all 10 metrics of H hosts over 8 hours;
-- double-groupby-M = hourly mean of M metrics per host over 12 hours (all = 10);
-- high-cpu-H = the rows with usage_user > 90 over 12 hours (of one host, or all);
-- lastpoint = the newest row of every host; groupby-orderby-limit = the last 5 minute
-- buckets (max usage_user) before a point in time.
-- lastpoint is written as a join (TimescaleDB's TSBS form is DISTINCT ON); (hostname, ts) is
-- unique, so both return the same rows.
-- Format: "-- name: <tsbs-name>" followed by one statement ending in ';'.

-- name: single-groupby-1-1-1
SELECT date_trunc('minute', ts) AS minute, max(usage_user) AS max_usage_user
FROM cpu
WHERE hostname IN ('host_7')
  AND ts >= TIMESTAMP '2016-01-01 01:10:00' AND ts < TIMESTAMP '2016-01-01 02:10:00'
GROUP BY minute
ORDER BY minute;

-- name: single-groupby-1-1-12
SELECT date_trunc('minute', ts) AS minute, max(usage_user) AS max_usage_user
FROM cpu
WHERE hostname IN ('host_7')
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
GROUP BY minute
ORDER BY minute;

-- name: single-groupby-1-8-1
SELECT date_trunc('minute', ts) AS minute, max(usage_user) AS max_usage_user
FROM cpu
WHERE hostname IN ('host_1', 'host_3', 'host_5', 'host_7', 'host_11', 'host_13', 'host_17', 'host_19')
  AND ts >= TIMESTAMP '2016-01-01 01:10:00' AND ts < TIMESTAMP '2016-01-01 02:10:00'
GROUP BY minute
ORDER BY minute;

-- name: single-groupby-5-1-1
SELECT date_trunc('minute', ts) AS minute,
       max(usage_user) AS max_usage_user, max(usage_system) AS max_usage_system,
       max(usage_idle) AS max_usage_idle, max(usage_nice) AS max_usage_nice,
       max(usage_iowait) AS max_usage_iowait
FROM cpu
WHERE hostname IN ('host_7')
  AND ts >= TIMESTAMP '2016-01-01 01:10:00' AND ts < TIMESTAMP '2016-01-01 02:10:00'
GROUP BY minute
ORDER BY minute;

-- name: single-groupby-5-1-12
SELECT date_trunc('minute', ts) AS minute,
       max(usage_user) AS max_usage_user, max(usage_system) AS max_usage_system,
       max(usage_idle) AS max_usage_idle, max(usage_nice) AS max_usage_nice,
       max(usage_iowait) AS max_usage_iowait
FROM cpu
WHERE hostname IN ('host_7')
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
GROUP BY minute
ORDER BY minute;

-- name: single-groupby-5-8-1
SELECT date_trunc('minute', ts) AS minute,
       max(usage_user) AS max_usage_user, max(usage_system) AS max_usage_system,
       max(usage_idle) AS max_usage_idle, max(usage_nice) AS max_usage_nice,
       max(usage_iowait) AS max_usage_iowait
FROM cpu
WHERE hostname IN ('host_1', 'host_3', 'host_5', 'host_7', 'host_11', 'host_13', 'host_17', 'host_19')
  AND ts >= TIMESTAMP '2016-01-01 01:10:00' AND ts < TIMESTAMP '2016-01-01 02:10:00'
GROUP BY minute
ORDER BY minute;

-- name: cpu-max-all-1
SELECT date_trunc('hour', ts) AS hour,
       max(usage_user) AS max_usage_user, max(usage_system) AS max_usage_system,
       max(usage_idle) AS max_usage_idle, max(usage_nice) AS max_usage_nice,
       max(usage_iowait) AS max_usage_iowait, max(usage_irq) AS max_usage_irq,
       max(usage_softirq) AS max_usage_softirq, max(usage_steal) AS max_usage_steal,
       max(usage_guest) AS max_usage_guest, max(usage_guest_nice) AS max_usage_guest_nice
FROM cpu
WHERE hostname IN ('host_7')
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 08:00:00'
GROUP BY hour
ORDER BY hour;

-- name: cpu-max-all-8
SELECT date_trunc('hour', ts) AS hour,
       max(usage_user) AS max_usage_user, max(usage_system) AS max_usage_system,
       max(usage_idle) AS max_usage_idle, max(usage_nice) AS max_usage_nice,
       max(usage_iowait) AS max_usage_iowait, max(usage_irq) AS max_usage_irq,
       max(usage_softirq) AS max_usage_softirq, max(usage_steal) AS max_usage_steal,
       max(usage_guest) AS max_usage_guest, max(usage_guest_nice) AS max_usage_guest_nice
FROM cpu
WHERE hostname IN ('host_1', 'host_3', 'host_5', 'host_7', 'host_11', 'host_13', 'host_17', 'host_19')
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 08:00:00'
GROUP BY hour
ORDER BY hour;

-- name: double-groupby-1
SELECT date_trunc('hour', ts) AS hour, hostname, avg(usage_user) AS mean_usage_user
FROM cpu
WHERE ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
GROUP BY hour, hostname
ORDER BY hour, hostname;

-- name: double-groupby-5
SELECT date_trunc('hour', ts) AS hour, hostname,
       avg(usage_user) AS mean_usage_user, avg(usage_system) AS mean_usage_system,
       avg(usage_idle) AS mean_usage_idle, avg(usage_nice) AS mean_usage_nice,
       avg(usage_iowait) AS mean_usage_iowait
FROM cpu
WHERE ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
GROUP BY hour, hostname
ORDER BY hour, hostname;

-- name: double-groupby-all
SELECT date_trunc('hour', ts) AS hour, hostname,
       avg(usage_user) AS mean_usage_user, avg(usage_system) AS mean_usage_system,
       avg(usage_idle) AS mean_usage_idle, avg(usage_nice) AS mean_usage_nice,
       avg(usage_iowait) AS mean_usage_iowait, avg(usage_irq) AS mean_usage_irq,
       avg(usage_softirq) AS mean_usage_softirq, avg(usage_steal) AS mean_usage_steal,
       avg(usage_guest) AS mean_usage_guest, avg(usage_guest_nice) AS mean_usage_guest_nice
FROM cpu
WHERE ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
GROUP BY hour, hostname
ORDER BY hour, hostname;

-- name: high-cpu-1
SELECT * FROM cpu
WHERE usage_user > 90.0
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00'
  AND hostname IN ('host_42');

-- name: high-cpu-all
SELECT * FROM cpu
WHERE usage_user > 90.0
  AND ts >= TIMESTAMP '2016-01-01 00:00:00' AND ts < TIMESTAMP '2016-01-01 12:00:00';

-- name: lastpoint
SELECT c.* FROM cpu c
JOIN (SELECT hostname, max(ts) AS max_ts FROM cpu GROUP BY hostname) m
  ON c.hostname = m.hostname AND c.ts = m.max_ts
ORDER BY c.hostname;

-- name: groupby-orderby-limit
SELECT date_trunc('minute', ts) AS minute, max(usage_user) AS max_usage_user
FROM cpu
WHERE ts < TIMESTAMP '2016-01-01 02:30:00'
GROUP BY minute
ORDER BY minute DESC
LIMIT 5;
