#!/usr/bin/env python3
"""TSBS cpu-only benchmark of tsdb against DuckDB and SQLite (see docs/BENCHMARKS.md).

Normally started by bench/run.sh, which builds the release binaries and passes their paths:

    python bench/run.py --shell target/release/tsdb-shell --tsbs target/release/deps/tsbs-HASH

For every scale: generate the data (bench/work/<scale>/), then measure
  tsdb     SQL-script ingest (tsdb-shell DIR < cpu.sql), CSV ingest (COPY cpu FROM 'cpu.csv'),
           bytes on disk after ADMIN flush_table + compact_table, peak RSS of the shell,
           query latency warm and after a restart (the `tsbs query` bench binary, in-process),
           peak RSS of `SELECT * FROM cpu` streamed through the library (`tsbs stream`);
  duckdb   and sqlite: the same through bench/peers.py children (SQL-script ingest replays only
           the first --peer-sql-rows rows);
once per run: commits/s of 1 and 8 concurrent writers of single-row INSERTs through the
library (`tsbs commit`, a fresh database in bench/work/commit/);
then check every query's tsdb result against DuckDB's, and write docs/bench/results.json,
docs/bench/latency.png and docs/BENCHMARKS.md. A correctness mismatch or a tsdb error fails
the run (exit status 1) after the report is written.
"""
import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import peers  # noqa: E402
import report  # noqa: E402

SCALES = {
    "small": (10, 3),        # 10,800 rows: a quick development run
    "100x24h": (100, 24),    # 864,000 rows
    "1000x3h": (1000, 3),    # 1,080,000 rows
}
PEERS = ["duckdb", "sqlite"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_child(argv, stdin=None, stdout=subprocess.DEVNULL, env=None):
    """Runs argv to completion; returns (seconds, peak RSS bytes, exit code, stderr text)."""
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tsdb-bench-{os.getpid()}.err"
    with open(err_path, "w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err, env=env)
        _, status, rusage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    err_path.unlink(missing_ok=True)
    return secs, rusage.ru_maxrss * 1024, p.returncode, text


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


class Tsdb:
    def __init__(self, shell, tsbs):
        self.shell, self.tsbs = str(shell), str(tsbs)

    def sql(self, data_dir, *statements, fmt="csv"):
        argv = [self.shell, str(data_dir), "--bail", "--format", fmt]
        for s in statements:
            argv += ["-c", s]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"tsdb-shell {statements}: {r.stderr.strip()}")
        return r.stdout

    def count(self, data_dir):
        return int(self.sql(data_dir, "SELECT count(*) AS n FROM cpu").splitlines()[1])

    def ingest_sql(self, data, db):
        shutil.rmtree(db, ignore_errors=True)
        with open(data / "cpu.sql") as script:
            secs, rss, code, err = run_child([self.shell, str(db), "--bail"], stdin=script)
        if code != 0:
            raise RuntimeError(f"tsdb-shell < cpu.sql failed ({code}): {err.strip()[:500]}")
        return {"seconds": secs, "peak_rss_bytes": rss, "rows": self.count(db)}

    def ingest_csv(self, data, db):
        shutil.rmtree(db, ignore_errors=True)
        self.sql(db, peers_create_table())
        copy = f"COPY cpu FROM '{(data / 'cpu.csv').resolve()}' WITH (FORMAT='csv')"
        secs, rss, code, err = run_child([self.shell, str(db), "--bail", "-c", copy])
        if code != 0:
            raise RuntimeError(f"tsdb-shell -c {copy!r} failed ({code}): {err.strip()[:500]}")
        res = {"seconds": secs, "peak_rss_bytes": rss, "rows": self.count(db)}
        t = time.perf_counter()
        self.sql(db, "ADMIN flush_table('cpu')", "ADMIN compact_table('cpu')")
        res["flush_compact_seconds"] = time.perf_counter() - t
        res["bytes_on_disk"] = du(db)
        return res

    def query(self, db, queries, runs, out, cold):
        argv = [self.tsbs, "query", "--data", str(db), "--queries", str(queries),
                "--runs", str(runs), "--out", str(out)] + (["--cold"] if cold else [])
        r = subprocess.run(argv, stderr=sys.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"tsbs query failed ({r.returncode})")
        return json.loads(Path(out).read_text())

    def stream(self, db, out):
        """`SELECT * FROM cpu` through Database::execute_stream: rows and peak RSS."""
        r = subprocess.run([self.tsbs, "stream", "--data", str(db), "--out", str(out)],
                           stderr=sys.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"tsbs stream failed ({r.returncode})")
        return json.loads(Path(out).read_text())

    def commit(self, db, writers, seconds, out):
        """Single-row INSERTs from `writers` tasks through Database::execute: commits/s."""
        r = subprocess.run([self.tsbs, "commit", "--dir", str(db), "--writers", str(writers),
                            "--seconds", str(seconds), "--out", str(out)], stderr=sys.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"tsbs commit --writers {writers} failed ({r.returncode})")
        shutil.rmtree(db, ignore_errors=True)
        return json.loads(Path(out).read_text())


def peers_create_table():
    from_tags = ", ".join(f"{t} STRING" for t in peers.TAGS)
    fields = ", ".join(f"{f} DOUBLE" for f in peers.FIELDS)
    return (f"CREATE TABLE cpu ({from_tags}, ts TIMESTAMP TIME INDEX, {fields}, "
            f"PRIMARY KEY ({', '.join(peers.TAGS)}))")


def peer_child(engine, action, out, **kw):
    argv = [sys.executable, str(HERE / "peers.py"), engine, action, "--out", str(out)]
    for k, v in kw.items():
        if v is True:
            argv.append("--" + k.replace("_", "-"))
        elif v not in (None, False):
            argv += ["--" + k.replace("_", "-"), str(v)]
    secs, rss, code, err = run_child(argv, stdout=None)
    if code != 0:
        raise RuntimeError(f"peers.py {engine} {action} failed ({code}): {err.strip()[-800:]}")
    if err.strip():
        log(err.rstrip())
    res = json.loads(Path(out).read_text())
    res["peak_rss_bytes"] = rss
    return res


# ---------------------------------------------------------------- correctness
def close_enough(a, b, rel=1e-6, abs_tol=1e-9):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_tol)
    return a == b


def sort_key(row):
    return tuple((0, "") if v is None else (1, v) if isinstance(v, (int, float)) else (2, str(v))
                 for v in row)


def compare(name, sql, ours, ref):
    """None if tsdb's result equals DuckDB's, else a one-line description of the difference."""
    if "error" in ours:
        return f"tsdb error: {ours['error']}"
    if "error" in ref:
        return f"duckdb error: {ref['error']}"
    a, b = ours["data"], ref["data"]
    if len(a) != len(b):
        return f"row count {len(a)} (tsdb) != {len(b)} (duckdb)"
    if a and len(a[0]) != len(b[0]):
        return f"column count {len(a[0])} (tsdb) != {len(b[0])} (duckdb)"
    if "ORDER BY" not in sql.upper():
        a, b = sorted(a, key=sort_key), sorted(b, key=sort_key)
    for i, (ra, rb) in enumerate(zip(a, b)):
        for j, (x, y) in enumerate(zip(ra, rb)):
            if not close_enough(x, y):
                col = ours.get("columns", [])[j] if j < len(ours.get("columns", [])) else j
                return f"row {i} column {col}: tsdb {x!r} != duckdb {y!r}"
    return None


# ---------------------------------------------------------------- driver
def ensure_data(tsbs, work, hosts, hours, seed, batch):
    meta_path = work / "meta.json"
    want = {"hosts": hosts, "hours": hours, "seed": seed, "batch": batch}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in want.items()):
            log(f"data: reusing {work}")
            return meta, 0.0
    t = time.perf_counter()
    subprocess.run([str(tsbs), "generate", "--hosts", str(hosts), "--hours", str(hours),
                    "--seed", str(seed), "--batch", str(batch), "--out", str(work)], check=True)
    return json.loads(meta_path.read_text()), time.perf_counter() - t


def strip_rows(q):
    return {name: {k: v for k, v in e.items() if k not in ("data", "columns")}
            for name, e in q.items()}


def run_scale(args, tsdb, scale, queries_file):
    hosts, hours = SCALES[scale]
    work = (ROOT / args.work / scale).resolve()
    work.mkdir(parents=True, exist_ok=True)
    meta, gen_secs = ensure_data(args.tsbs, work, hosts, hours, args.seed, args.batch)
    nrows = meta["rows"]
    log(f"\n=== {scale}: {hosts} hosts x {hours} h = {nrows:,} rows "
        f"(cpu.sql {meta['sql_bytes'] / 2**20:.0f} MiB, cpu.csv {meta['csv_bytes'] / 2**20:.0f} MiB)")
    queries = peers.load_queries(queries_file)
    res = {"hosts": hosts, "hours": hours, "rows": nrows, "generate_seconds": gen_secs,
           "query_order": [name for name, _ in queries],
           "peer_sql_rows": min(nrows, -(-args.peer_sql_rows // args.batch) * args.batch)
           if args.peer_sql_rows else nrows, "engines": {}, "correctness": {}}

    # ---- tsdb
    t = {"version": args.tsdb_version}
    log("tsdb: SQL script on stdin (full script) ...")
    t["ingest_sql"] = tsdb.ingest_sql(work, work / "tsdb_sql")
    log(f"  {fmt_ingest(t['ingest_sql'])}")
    shutil.rmtree(work / "tsdb_sql", ignore_errors=True)
    log("tsdb: COPY FROM csv ...")
    t["ingest_csv"] = tsdb.ingest_csv(work, work / "tsdb_csv")
    log(f"  {fmt_ingest(t['ingest_csv'])}; {t['ingest_csv']['bytes_on_disk'] / nrows:.1f} bytes/row "
        f"after flush+compact ({t['ingest_csv']['flush_compact_seconds']:.2f} s)")
    log("tsdb: queries, warm ...")
    warm = tsdb.query(work / "tsdb_csv", queries_file, args.runs, work / "tsdb_warm.json", False)
    log("tsdb: queries, after a restart ...")
    cold = tsdb.query(work / "tsdb_csv", queries_file, args.runs, work / "tsdb_cold.json", True)
    t["queries_warm"], t["queries_cold"] = strip_rows(warm["queries"]), strip_rows(cold["queries"])
    t["open_median_ms"] = cold.get("open_median_ms")
    log("tsdb: SELECT * FROM cpu streamed through the library ...")
    t["stream_select_all"] = tsdb.stream(work / "tsdb_csv", work / "tsdb_stream.json")
    if t["stream_select_all"]["rows"] != nrows:
        raise RuntimeError(f"SELECT * FROM cpu streamed {t['stream_select_all']['rows']} rows, "
                           f"expected {nrows}")
    res["engines"]["tsdb"] = t

    # ---- peers
    ref = None
    for name in args.peers:
        log(f"{name}: SQL script (first {res['peer_sql_rows']:,} rows), CSV, queries ...")
        db = work / f"{name}_sql.db"
        p = {}
        sql_ingest = peer_child(name, "ingest-sql", work / f"{name}_sql.json", db=db, data=work,
                                sql_rows=args.peer_sql_rows, batch=args.batch)
        peers.fresh(db)
        db = work / f"{name}_csv.db"
        csv_ingest = peer_child(name, "ingest-csv", work / f"{name}_csv.json", db=db, data=work)
        p["version"] = csv_ingest.pop("version")
        sql_ingest.pop("version")
        p["ingest_sql"], p["ingest_csv"] = sql_ingest, csv_ingest
        log(f"  sql: {fmt_ingest(sql_ingest)}\n  csv: {fmt_ingest(csv_ingest)}; "
            f"{csv_ingest['bytes_on_disk'] / nrows:.1f} bytes/row")
        warm = peer_child(name, "query", work / f"{name}_warm.json", db=db, queries=queries_file,
                          runs=args.runs, keep_rows=(name == "duckdb"))
        cold = peer_child(name, "query", work / f"{name}_cold.json", db=db, queries=queries_file,
                          runs=args.runs, cold=True)
        if name == "duckdb":
            ref = warm["queries"]
        p["queries_warm"], p["queries_cold"] = strip_rows(warm["queries"]), strip_rows(cold["queries"])
        res["engines"][name] = p

    # ---- correctness: tsdb vs DuckDB (rows and values), SQLite row counts vs DuckDB
    for qname, sql in queries:
        entry = {}
        if ref is not None:
            entry["tsdb_vs_duckdb"] = compare(qname, sql, warm_rows(work, qname), ref[qname]) or "ok"
            sq = res["engines"].get("sqlite", {}).get("queries_warm", {}).get(qname, {})
            if "rows" in sq and "rows" in ref[qname]:
                entry["sqlite_rows_vs_duckdb"] = ("ok" if sq["rows"] == ref[qname]["rows"] else
                                                  f"{sq['rows']} != {ref[qname]['rows']}")
        else:
            err = res["engines"]["tsdb"]["queries_warm"][qname].get("error")
            entry["tsdb_vs_duckdb"] = f"tsdb error: {err}" if err else "not checked (no duckdb)"
        res["correctness"][qname] = entry
        if entry["tsdb_vs_duckdb"] != "ok":
            log(f"  MISMATCH {qname}: {entry['tsdb_vs_duckdb']}")
    return res


_warm_cache = {}


def warm_rows(work, qname):
    path = work / "tsdb_warm.json"
    if path not in _warm_cache:
        _warm_cache[path] = json.loads(path.read_text())["queries"]
    return _warm_cache[path][qname]


def fmt_ingest(r):
    return (f"{r['rows']:,} rows in {r['seconds']:.2f} s = {r['rows'] / r['seconds']:,.0f} rows/s, "
            f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB")


def machine():
    info = {"python": platform.python_version(), "kernel": platform.release(),
            "cores": os.cpu_count()}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        info["os"] = platform.platform()
    return info


def tsdb_version():
    version = "?"
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.startswith("version"):
            version = line.split("=", 1)[1].strip().strip('"')
            break
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if rev:
            version += f" ({rev}{'+changes' if dirty else ''})"
    except OSError:
        pass
    return version


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shell", help="release tsdb-shell executable (required unless --report-only)")
    ap.add_argument("--tsbs", help="release `tsbs` bench executable (required unless --report-only)")
    ap.add_argument("--scales", default="100x24h,1000x3h",
                    help=f"comma list of {', '.join(SCALES)} (default: 100x24h,1000x3h)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per query (default 5)")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--batch", type=int, default=1000, help="rows per INSERT statement")
    ap.add_argument("--peer-sql-rows", type=int, default=100_000,
                    help="rows of the SQL script the peers replay (0 = all; default 100000)")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--queries", default=str(HERE / "queries.sql"))
    ap.add_argument("--work", default="bench/work", help="data directory (relative to the repo)")
    ap.add_argument("--results", default="docs/bench/results.json")
    ap.add_argument("--report", default="docs/BENCHMARKS.md")
    ap.add_argument("--chart", default="docs/bench/latency.png")
    ap.add_argument("--commit-writers", default="1,8",
                    help="comma list of writer counts for the commit figure ('' = skip)")
    ap.add_argument("--commit-seconds", type=float, default=5.0,
                    help="seconds per commit run (default 5)")
    ap.add_argument("--rustc", default="", help="rustc version string for the report")
    ap.add_argument("--report-only", action="store_true",
                    help="only rewrite the report and chart from the existing results JSON")
    args = ap.parse_args()
    if args.report_only:
        results = json.loads((ROOT / args.results).read_text())
        report.chart(results, ROOT / args.chart)
        report.markdown(results, ROOT / args.report, ROOT / args.chart)
        log(f"wrote {args.chart}, {args.report} from {args.results}")
        return
    if not args.shell or not args.tsbs:
        ap.error("--shell and --tsbs are required")
    args.peers = [p for p in args.peers.split(",") if p]
    args.tsdb_version = tsdb_version()
    scales = [s for s in args.scales.split(",") if s]
    for s in scales:
        if s not in SCALES:
            ap.error(f"unknown scale {s!r} (known: {', '.join(SCALES)})")

    started = time.perf_counter()
    tsdb = Tsdb(args.shell, args.tsbs)
    results = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(),
               "versions": {"tsdb": args.tsdb_version, "datafusion": "55.2.0",
                            "rustc": args.rustc, "python": platform.python_version(),
                            "sqlite": peers.sqlite3.sqlite_version},
               "settings": {"runs": args.runs, "seed": args.seed, "batch": args.batch,
                            "peer_sql_rows": args.peer_sql_rows, "queries": "bench/queries.sql",
                            "commit_seconds": args.commit_seconds},
               "scales": {}}
    try:
        import duckdb
        results["versions"]["duckdb"] = duckdb.__version__
    except ImportError:
        pass
    failures = []
    for s in scales:
        try:
            r = run_scale(args, tsdb, s, Path(args.queries))
        except Exception as e:  # a broken step fails the run, after the report of the rest
            log(f"scale {s} FAILED: {e}")
            failures.append(f"{s}: {e}")
            continue
        results["scales"][s] = r
        for q, c in r["correctness"].items():
            if c["tsdb_vs_duckdb"] != "ok":
                failures.append(f"{s} {q}: {c['tsdb_vs_duckdb']}")
    results["commit"] = {}
    for w in [int(x) for x in args.commit_writers.split(",") if x]:
        log(f"\n=== commits/s: {w} writer(s) of single-row INSERTs through the library ...")
        work = (ROOT / args.work / "commit").resolve()
        work.mkdir(parents=True, exist_ok=True)
        try:
            results["commit"][str(w)] = tsdb.commit(work / "db", w, args.commit_seconds,
                                                    work / f"commit_{w}.json")
        except Exception as e:
            log(f"commit figure with {w} writers FAILED: {e}")
            failures.append(f"commit {w} writers: {e}")
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["failures"] = failures

    out = ROOT / args.results
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    report.chart(results, ROOT / args.chart)
    report.markdown(results, ROOT / args.report, ROOT / args.chart)
    log(f"\nwrote {args.results}, {args.chart}, {args.report}")
    log(f"benchmark wall time (after the build): {results['wall_seconds']:.0f} s "
        f"({results['wall_seconds'] / 60:.1f} min)")
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
