-- A small hand-written monitoring example: CPU samples from three hosts, an overwrite,
-- time-range queries and a flush.
--
--     cargo run --bin tsdb-shell -- ./cpu-data -f examples/cpu.sql
--
-- Safe to run twice: every INSERT writes the same (host, ts) identities again, which replace
-- themselves, so every result is the same on the second run.

CREATE TABLE IF NOT EXISTS cpu (
    host         STRING,
    dc           STRING,
    ts           TIMESTAMP TIME INDEX,
    usage_user   DOUBLE,
    usage_system DOUBLE,
    PRIMARY KEY (host, dc)
);

SHOW TABLES;

DESC TABLE cpu;

-- One sample every 10 seconds. Timestamps are strings in UTC; integers would be read as
-- milliseconds since the epoch (the unit of TIMESTAMP).
INSERT INTO cpu VALUES
    ('web-1', 'eu-west', '2024-05-01T10:00:00Z', 12.5,  3.1),
    ('web-1', 'eu-west', '2024-05-01T10:00:10Z', 14.0,  3.4),
    ('web-1', 'eu-west', '2024-05-01T10:00:20Z', 99.9, 40.0),
    ('web-1', 'eu-west', '2024-05-01T10:00:30Z', 15.2,  3.0),
    ('web-2', 'eu-west', '2024-05-01T10:00:00Z', 55.0,  7.5),
    ('web-2', 'eu-west', '2024-05-01T10:00:10Z', 57.5,  8.0),
    ('web-2', 'eu-west', '2024-05-01T10:00:20Z', 61.0,  8.2),
    ('web-2', 'eu-west', '2024-05-01T10:00:30Z', 58.3,  7.9),
    ('db-1',  'us-east', '2024-05-01T10:00:00Z', 31.0, 12.0),
    ('db-1',  'us-east', '2024-05-01T10:00:10Z', 33.3, 12.5),
    ('db-1',  'us-east', '2024-05-01T10:00:20Z', 35.1, 13.0),
    ('db-1',  'us-east', '2024-05-01T10:00:30Z', 30.8, 11.7);

SELECT count(*) AS samples FROM cpu;

-- The 99.9 at web-1 10:00:20 was a bad sample. Writing the same identity
-- (host, dc, ts) again replaces the whole row: still 12 samples afterwards.
INSERT INTO cpu VALUES ('web-1', 'eu-west', '2024-05-01T10:00:20Z', 13.7, 3.2);

SELECT count(*) AS samples FROM cpu;

SELECT * FROM cpu WHERE host = 'web-1' ORDER BY ts;

-- A time range on the time index: the 20 seconds from 10:00:10 (inclusive) to 10:00:30
-- (exclusive).
SELECT host, ts, usage_user
FROM cpu
WHERE ts >= '2024-05-01T10:00:10Z' AND ts < '2024-05-01T10:00:30Z'
ORDER BY host, ts;

-- Per-host averages in 20-second buckets.
SELECT
    host,
    date_bin(INTERVAL '20 seconds', ts) AS bucket,
    round(avg(usage_user), 2) AS avg_user,
    round(max(usage_system), 2) AS max_system
FROM cpu
GROUP BY host, date_bin(INTERVAL '20 seconds', ts)
ORDER BY host, bucket;

-- The latest sample per host.
SELECT host, max(ts) AS last_seen FROM cpu GROUP BY host ORDER BY host;

-- Write the memtable to an SST now (normally done when it fills up or ages out); queries
-- read SSTs and memtables alike, so the results do not change.
ADMIN flush_table('cpu');

SELECT host, count(*) AS samples, round(avg(usage_user), 2) AS avg_user
FROM cpu
GROUP BY host
ORDER BY host;

SHOW CREATE TABLE cpu;
