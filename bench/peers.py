"""The peers: DuckDB (Python package) and SQLite (stdlib), driven in-process.

Each measurement runs in a child process of run.py (`python peers.py ENGINE ACTION ...`), so
that run.py can read the child's peak RSS with os.wait4 and no engine's background threads
outlive its measurement. The child writes its result as JSON to --out.

Actions:
  ingest-sql   replay the first --sql-rows rows of cpu.sql (whole INSERT statements), one
               statement per transaction (autocommit), then make it durable (CHECKPOINT /
               the index).
  ingest-csv   load cpu.csv through the engine's fastest path (DuckDB: COPY FROM; SQLite:
               csv.reader + executemany in one transaction), then CHECKPOINT / CREATE INDEX.
  query        warm: one warm-up and --runs timed runs per query on one connection;
               cold: for each timed run a fresh connection, the first run after it is timed.
"""
import argparse
import csv as csvmod
import datetime as dt
import json
import re
import sqlite3
import statistics
import time
from pathlib import Path

TAGS = ["hostname", "region", "datacenter", "rack", "os", "arch", "team",
        "service", "service_version", "service_environment"]
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
          "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]


def ddl(tag_type, ts_type, field_type):
    cols = [f"{t} {tag_type}" for t in TAGS] + [f"ts {ts_type}"] + [f"{f} {field_type}" for f in FIELDS]
    return f"CREATE TABLE cpu ({', '.join(cols)})"


def load_queries(path):
    """'-- name: X' followed by one statement ending in ';' -> [(name, sql)]."""
    out, name, buf = [], None, []
    for line in Path(path).read_text().splitlines():
        if line.startswith("-- name:"):
            name, buf = line.split(":", 1)[1].strip(), []
        elif name and not line.lstrip().startswith("--"):
            buf.append(line)
            if line.rstrip().endswith(";"):
                out.append((name, "\n".join(buf).strip().rstrip(";")))
                name = None
    return out


def insert_statements(sql_path, max_rows, batch):
    """The INSERT statements of the generated script (not its CREATE TABLE), at most
    ceil(max_rows / batch) of them (max_rows 0 = all)."""
    limit = -(-max_rows // batch) if max_rows else None
    n = 0
    with open(sql_path) as f:
        for line in f:
            if line.startswith("INSERT"):
                if limit is not None and n >= limit:
                    return
                n += 1
                yield line.rstrip().rstrip(";")


def fresh(path):
    p = Path(path)
    for extra in (p, Path(str(p) + ".wal"), Path(str(p) + "-journal"), Path(str(p) + "-wal")):
        extra.unlink(missing_ok=True)
    return str(p)


def file_bytes(path):
    return sum(Path(p).stat().st_size for p in (path, path + ".wal", path + "-wal")
               if Path(p).exists())


EPOCH = dt.datetime(1970, 1, 1)


def plain(v):
    """A result value as JSON: timestamps as epoch ms (UTC), numbers as float."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return (v - EPOCH) // dt.timedelta(milliseconds=1)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return str(v)


# ---------------------------------------------------------------- engines
class DuckDB:
    name = "duckdb"

    def __init__(self):
        import duckdb
        self.mod, self.version = duckdb, duckdb.__version__

    def connect(self, path):
        self.con = self.mod.connect(path)

    def create(self, path):
        self.connect(fresh(path))
        self.con.execute(ddl("VARCHAR", "TIMESTAMP", "DOUBLE"))

    def load_sql(self, stmts):
        for stmt in stmts:
            self.con.execute(stmt)
        self.con.execute("CHECKPOINT")

    def load_csv(self, csv):
        self.con.execute(f"COPY cpu FROM '{csv}' (HEADER)")
        self.con.execute("CHECKPOINT")

    def count(self):
        return self.con.execute("SELECT count(*) FROM cpu").fetchone()[0]

    def query(self, q):
        return self.con.sql(q).to_arrow_table()

    @staticmethod
    def rows(table):
        cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return table.column_names, [[plain(c[r]) for c in cols] for r in range(table.num_rows)]

    @staticmethod
    def nrows(table):
        return table.num_rows

    def close(self):
        self.con.close()


class SQLite:
    name = "sqlite"

    def __init__(self):
        self.version = sqlite3.sqlite_version

    def connect(self, path):
        self.con = sqlite3.connect(path, isolation_level=None)  # autocommit unless BEGIN

    def create(self, path):
        self.connect(fresh(path))
        self.con.execute(ddl("TEXT", "TEXT", "REAL"))

    def index(self):
        self.con.execute("CREATE INDEX cpu_hostname_ts ON cpu (hostname, ts)")

    def load_sql(self, stmts):
        for stmt in stmts:
            self.con.execute(stmt)
        self.index()

    def load_csv(self, csv):
        self.con.execute("BEGIN")
        with open(csv, newline="") as f:
            r = csvmod.reader(f)
            next(r)
            self.con.executemany(f"INSERT INTO cpu VALUES ({','.join('?' * 21)})", r)
        self.con.execute("COMMIT")
        self.index()

    def count(self):
        return self.con.execute("SELECT count(*) FROM cpu").fetchone()[0]

    @staticmethod
    def rewrite(q):
        q = q.replace("date_trunc('minute', ts)", "strftime('%Y-%m-%d %H:%M:00', ts)")
        q = q.replace("date_trunc('hour', ts)", "strftime('%Y-%m-%d %H:00:00', ts)")
        return re.sub(r"TIMESTAMP '", "'", q)

    def query(self, q):
        return self.con.execute(self.rewrite(q)).fetchall()

    @staticmethod
    def rows(result):
        return None, [[plain(v) for v in row] for row in result]

    @staticmethod
    def nrows(result):
        return len(result)

    def close(self):
        self.con.close()


ENGINES = {"duckdb": DuckDB, "sqlite": SQLite}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=list(ENGINES))
    ap.add_argument("action", choices=["ingest-sql", "ingest-csv", "query"])
    ap.add_argument("--db", required=True, help="database file")
    ap.add_argument("--data", help="directory with cpu.sql / cpu.csv")
    ap.add_argument("--sql-rows", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--queries")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--keep-rows", action="store_true", help="write the result rows")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    eng = ENGINES[args.engine]()
    res = {"version": eng.version}

    if args.action.startswith("ingest"):
        t = time.perf_counter()
        eng.create(args.db)
        if args.action == "ingest-sql":
            eng.load_sql(insert_statements(Path(args.data) / "cpu.sql", args.sql_rows, args.batch))
        else:
            eng.load_csv(str(Path(args.data) / "cpu.csv"))
        res["seconds"] = time.perf_counter() - t
        res["rows"] = eng.count()
        eng.close()
        res["bytes_on_disk"] = file_bytes(args.db)
    else:
        queries = {}
        if not args.cold:
            eng.connect(args.db)
        for name, q in load_queries(args.queries):
            times, result = [], None
            try:
                if args.cold:
                    for _ in range(args.runs):
                        eng.connect(args.db)
                        t = time.perf_counter()
                        result = eng.query(q)
                        times.append((time.perf_counter() - t) * 1000)
                        eng.close()
                else:
                    eng.query(q)  # warm-up
                    for _ in range(args.runs):
                        t = time.perf_counter()
                        result = eng.query(q)
                        times.append((time.perf_counter() - t) * 1000)
                entry = {"median_ms": round(statistics.median(times), 3),
                         "min_ms": round(min(times), 3),
                         "times_ms": [round(x, 3) for x in times],
                         "rows": eng.nrows(result)}
                if args.keep_rows:
                    entry["columns"], entry["data"] = eng.rows(result)
            except Exception as e:  # recorded, not fatal: the report shows it
                entry = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
            queries[name] = entry
            shown = {k: v for k, v in entry.items() if k not in ("data", "columns", "times_ms")}
            print(f"  {args.engine:6} {'cold' if args.cold else 'warm'} {name:24} {shown}", flush=True)
        if not args.cold:
            eng.close()
        res["queries"] = queries
    Path(args.out).write_text(json.dumps(res))


if __name__ == "__main__":
    main()
