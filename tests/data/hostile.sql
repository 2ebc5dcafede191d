Hostile-SQL corpus for tests/hostile_sql.rs (issue #8): each case starts with a line
`### ok`, `### error` or `### error: TEXT` (the `Error:` line must contain TEXT, compared
case-insensitively), followed by the bytes fed to `tsdb-shell` on stdin (and, unless the case
is a dot command, to `Database::execute`). Every case runs in its own shell process against
a database holding the `cpu` table of the test (tags host, dc; time index ts; fields usage
DOUBLE, n BIGINT, note STRING; some rows flushed to an SST, some only in the WAL). No case
may change its rows: the test counts them before and after. Generated cases (deep nesting,
huge literals and lists, NUL bytes, invalid UTF-8) are in the test itself.
Lines before the first case are this description.

### error: expected: an sql statement
SELEC 1;
### error
SELECT;
### error
SELECT 'unterminated;
### error
SELECT "unterminated;
### error
SELECT 1 /* unterminated comment;
### error
SELECT $$unterminated dollar string;
### ok
SELECT E'\x';
### error
SELECT 1 FROM;
### ok
;;;;
### ok
-- only a comment
### error
SELECT (((1);
### error
SELECT 1));
### error
SELECT * FROM cpu WHERE;
### error
SELECT * FROM cpu WHERE ts = = 3;
### error
INSERT INTO;
### error
INSERT INTO cpu VALUES;
### error
CREATE TABLE;
### error
CREATE TABLE t (;
### error
DROP;
### error
SELECT 1 AS;
### error
SELECT * FROM cpu ORDER BY;
### error
SELECT * FROM cpu LIMIT 'x';
### error
SELECT * FROM cpu LIMIT -1;
### error
SELECT * FROM cpu LIMIT 1 OFFSET -5;
### ok
SELECT * FROM cpu LIMIT 0;
### ok
SELECT * FROM cpu LIMIT 9223372036854775807;
### error
SELECT * FROM cpu LIMIT 99999999999999999999999;
### error: divide by zero
SELECT 1 / 0;
### error: divide by zero
SELECT 1 % 0;
### error: divide by zero
SELECT n / 0 FROM cpu;
### ok
SELECT usage / 0 FROM cpu;
### ok
SELECT 1.0 / 0.0;
### ok
-- DataFusion's integer arithmetic wraps (docs/RELIABILITY.md)
SELECT 9223372036854775807 + 1;
### ok
-- DataFusion's integer arithmetic wraps (docs/RELIABILITY.md)
SELECT -9223372036854775807 - 2;
### ok
-- DataFusion's integer arithmetic wraps (docs/RELIABILITY.md)
SELECT 9223372036854775807 * 2;
### error
SELECT abs(-9223372036854775808);
### error
SELECT CAST('abc' AS INT);
### error
SELECT CAST(99999999999 AS INT);
### error
SELECT CAST(1e300 AS BIGINT);
### error
SELECT CAST('9999-99-99' AS TIMESTAMP);
### error
SELECT CAST('294248-01-01T00:00:00' AS TIMESTAMP);
### error
SELECT CAST('-294248-01-01T00:00:00' AS TIMESTAMP);
### error
SELECT to_timestamp(9223372036854775807);
### ok
-- a valid i64 timestamp: stored and compared, though no calendar date prints for it
SELECT to_timestamp_millis(9223372036854775807) IS NOT NULL;
### error
SELECT to_timestamp('not a time');
### error
SELECT INTERVAL '999999999999 years';
### error
SELECT now() + INTERVAL '100000000 years';
### error
SELECT TIMESTAMP '2262-04-12T00:00:00' + INTERVAL '1000 years';
### error
SELECT date_bin(INTERVAL '0 seconds', ts) FROM cpu;
### error
SELECT date_trunc('nonsense', ts) FROM cpu;
### error
SELECT date_part('nonsense', ts) FROM cpu;
### ok
SELECT power(10.0, 400);
### error
SELECT sqrt(-1.0);
### ok
SELECT ln(0.0);
### ok
SELECT 100000000000000000000000000000000000000000000000000000000000000000000000000000;
### ok
SELECT 1e999999;
### error
SELECT CAST(1 AS DECIMAL(100, 2));
### error
SELECT CAST(1 AS DECIMAL(38, 50));
### error
SELECT CAST(12345 AS DECIMAL(3, 0));
### ok
SELECT repeat('x', -1);
### error
SELECT repeat('x', 9223372036854775807);
### error
SELECT repeat('ab', 2000000000);
### error
SELECT lpad('x', 9223372036854775807);
### error
SELECT rpad('x', 9223372036854775807, 'y');
### error
SELECT array_repeat(1, 9223372036854775807);
### error
SELECT range(1, 9223372036854775807);
### error
SELECT * FROM generate_series(1, 10, 0);
### error
SELECT substr('abc', 1, -1);
### error
SELECT substr('abc', -9223372036854775808, 9223372036854775807);
### ok
SELECT left('abc', -9223372036854775808);
### ok
SELECT right('abc', -9223372036854775808);
### ok
SELECT split_part('a,b', ',', -9223372036854775808);
### error
SELECT split_part('a,b', ',', 0);
### ok
SELECT chr(0);
### error
SELECT chr(-1);
### error
SELECT chr(1114112);
### error
SELECT regexp_like('a', '(');
### error
SELECT regexp_replace('a', '[', 'b');
### ok
SELECT regexp_like('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', '(a+)+$');
### error
SELECT to_hex('x');
### error
SELECT decode('zz', 'hex');
### error
SELECT decode('a', 'nonsense');
### error
SELECT nosuchfunction(1);
### ok
SELECT count();
### error
SELECT sum(host) FROM cpu;
### error
SELECT host FROM cpu GROUP BY dc;
### error
SELECT * FROM cpu WHERE host = 1 + 'a';
### error
SELECT * FROM cpu WHERE ts > 'yesterday-ish';
### ok
SELECT count(*) FROM cpu WHERE ts > 9223372036854775807;
### ok
SELECT count(*) FROM cpu WHERE ts < -9223372036854775808;
### ok
SELECT count(*) FROM cpu WHERE ts BETWEEN 100 AND -100;
### error
SELECT * FROM nosuchtable;
### error
SELECT nosuchcolumn FROM cpu;
### error
SELECT * FROM cpu, cpu;
### ok
WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r) SELECT k FROM r LIMIT 5;
### error
WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k FROM r WHERE k > (SELECT max(k) FROM r)) SELECT * FROM r;
### error
WITH a AS (SELECT 1), a AS (SELECT 2) SELECT * FROM a;
### error
SELECT * FROM (SELECT 1 AS x, 2 AS x);
### error
CREATE TABLE bad1 (ts TIMESTAMP TIME INDEX, v NOSUCHTYPE);
### error
CREATE TABLE bad2 (ts TIMESTAMP, v DOUBLE);
### error
CREATE TABLE bad3 (ts TIMESTAMP TIME INDEX, ts2 TIMESTAMP TIME INDEX);
### error
CREATE TABLE bad4 (ts TIMESTAMP TIME INDEX, v DOUBLE, v DOUBLE);
### error
CREATE TABLE bad5 (ts TIMESTAMP TIME INDEX, v DOUBLE, PRIMARY KEY (nosuch));
### error
CREATE TABLE bad6 (ts TIMESTAMP TIME INDEX, v DOUBLE, PRIMARY KEY (ts));
### error
CREATE TABLE bad7 (ts DOUBLE TIME INDEX);
### error: invalid default
CREATE TABLE bad8 (ts TIMESTAMP TIME INDEX, v DOUBLE DEFAULT 'abc');
### error
CREATE TABLE bad9 (ts TIMESTAMP TIME INDEX, v DOUBLE DEFAULT nosuchfunction());
### error
CREATE TABLE bad10 (ts TIMESTAMP TIME INDEX) WITH (ttl = 'forever and ever');
### error
CREATE TABLE bad11 (ts TIMESTAMP TIME INDEX) WITH (nosuchoption = '1');
### error
CREATE TABLE bad12 (ts TIMESTAMP(99) TIME INDEX);
### error
CREATE TABLE bad13 (ts TIMESTAMP TIME INDEX, v VARCHAR(-1));
### error
CREATE TABLE bad14 ();
### error
CREATE TABLE cpu (ts TIMESTAMP TIME INDEX);
### error
CREATE TABLE "" (ts TIMESTAMP TIME INDEX);
### error
CREATE TABLE bad15 ("" TIMESTAMP TIME INDEX);
### error: reserved
CREATE TABLE bad16 (__sequence BIGINT, ts TIMESTAMP TIME INDEX);
### error: reserved
CREATE TABLE bad17 (__op_type TINYINT, ts TIMESTAMP TIME INDEX);
### error
CREATE TABLE bad18 (ts TIMESTAMP TIME INDEX, host STRING, PRIMARY KEY (host, host));
### error
CREATE TABLE bad19 (ts TIMESTAMP TIME INDEX NULL);
### error
CREATE TABLE bad20 AS SELECT 1;
### error
CREATE TABLE bad21 (ts TIMESTAMP TIME INDEX) PARTITION ON COLUMNS (ts) ();
### ok
-- a session-only DataFusion view: not stored, gone after restart
CREATE VIEW v AS SELECT * FROM cpu;
### error
CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '/nonexistent/file.csv';
### error
DROP TABLE nosuchtable;
### ok
DROP TABLE IF EXISTS nosuchtable;
### error
DROP VIEW nosuchview;
### error
DROP DATABASE public;
### error
ALTER TABLE nosuchtable ADD COLUMN x INT;
### error
ALTER TABLE cpu ADD COLUMN x NOSUCHTYPE;
### error
ALTER TABLE cpu DROP COLUMN ts;
### error
ALTER TABLE cpu RENAME TO cpu;
### error
TRUNCATE TABLE nosuchtable;
### error
DESC TABLE nosuchtable;
### error
SHOW CREATE TABLE nosuchtable;
### error
SHOW NOSUCHTHING;
### error
INSERT INTO cpu VALUES ('a');
### error
INSERT INTO cpu VALUES ('a', 'b', 1000, 1.0, 1, 'x', 'extra');
### error
INSERT INTO cpu (host, host, ts) VALUES ('a', 'b', 1000);
### error
INSERT INTO cpu (nosuch) VALUES (1);
### error: cannot convert column
INSERT INTO cpu (host, ts, usage) VALUES ('a', 1000, 'not a number');
### error
INSERT INTO cpu (host, ts, n) VALUES ('a', 1000, 1.5e300);
### error
INSERT INTO cpu (host, ts, n) VALUES ('a', 1000, 99999999999999999999999);
### error
INSERT INTO cpu (host, ts) VALUES ('a', NULL);
### error
INSERT INTO cpu (host, usage) VALUES ('a', 1.0);
### error: cannot convert column
INSERT INTO cpu (host, ts) VALUES ('a', 'not a timestamp');
### error
INSERT INTO cpu (host, ts) VALUES ('a', '99999-01-01T00:00:00');
### error
INSERT INTO cpu (host, ts) VALUES ('a', 1000), ('b');
### error
INSERT INTO cpu (host, ts) VALUES ('a', 1 / 0);
### error
INSERT INTO cpu (host, ts) SELECT host FROM cpu;
### error
INSERT INTO nosuchtable VALUES (1);
### error
INSERT INTO cpu (host, ts, usage) VALUES ('a', 1000, 1.0) ON CONFLICT DO NOTHING;
### error
UPDATE cpu SET usage = 1;
### error
DELETE FROM nosuchtable;
### error
DELETE FROM cpu WHERE nosuch = 1;
### error
DELETE FROM cpu WHERE 1 / 0 = 1;
### error
COPY cpu FROM '/nonexistent/dir/file.csv';
### error
COPY cpu FROM '/dev/null/x.parquet';
### error
COPY nosuchtable FROM '/nonexistent/file.csv';
### error
COPY cpu FROM 'tests/data/hostile.sql' WITH (FORMAT = 'parquet');
### error
COPY cpu FROM 'tests/data/hostile.sql' WITH (FORMAT = 'json');
### error
COPY cpu FROM 'tests/data/hostile.sql' WITH (FORMAT = 'csv');
### error
COPY cpu FROM 'tests/data/hostile.sql' WITH (FORMAT = 'nonsense');
### error
COPY cpu TO '/dev/null/dir/out.csv';
### error
COPY cpu TO '' ;
### error
ADMIN;
### error
ADMIN nosuch_function('cpu');
### error
ADMIN flush_table();
### error
ADMIN flush_table('nosuchtable');
### error
ADMIN flush_table(cpu, cpu);
### error
ADMIN flush_table(1);
### error
ADMIN compact_table('nosuchtable');
### error
ADMIN compact_table('cpu', 'extra', 'args', 'here');
### error
SET datafusion.execution.batch_size = 0;
### error
SET datafusion.nosuch.option = 1;
### error
SET datafusion.execution.target_partitions = 'many';
### error
EXPLAIN;
### ok
EXPLAIN SELECT * FROM cpu WHERE ts > 9223372036854775807;
### error
PREPARE p AS SELECT $1; EXECUTE p;
### error
SELECT $1;
### error
SELECT * FROM cpu WHERE host = $1;
### error
SELECT * FROM read_csv('/etc/passwd');
### error
BEGIN;
### error
COMMIT;
### error
VACUUM;
### error
ATTACH DATABASE 'x' AS y;
### error
.read /nonexistent/file.sql
### error
.read
### error
.import
### error
.import /nonexistent/file.csv cpu
### error
.import tests/data/hostile.sql nosuchtable
### error
.import tests/data/hostile.sql cpu
### error
.import 'unterminated cpu
### error
.mode nosuchmode
### error
.timer maybe
### error
.progress maybe
### error
.maxrows -1
### error
.maxrows lots
### error
.schema nosuchtable
### error
.nosuchcommand
### error
.once
### error
.output /dev/null/dir/out.txt
### ok
.nullvalue
### ok
.help
