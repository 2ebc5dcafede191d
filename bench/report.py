"""docs/BENCHMARKS.md and the latency chart from the results of bench/run.py."""
from pathlib import Path

ENGINES = ["tsdb", "duckdb", "sqlite"]
LABEL = {"tsdb": "tsdb", "duckdb": "DuckDB", "sqlite": "SQLite"}


def _peers(scale):
    return [e for e in ENGINES[1:] if e in scale["engines"]]


def _num(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def _ms(x):
    if x is None:
        return "–"
    if x < 1:
        return f"{x:.3f}"
    if x < 100:
        return f"{x:.2f}"
    return f"{x:,.0f}"


def _factor(ours, best, higher_is_better):
    """'2.1x better' / '3.4x worse' of tsdb against the best peer."""
    if ours is None or best is None or ours <= 0 or best <= 0:
        return "–", None
    f = ours / best if higher_is_better else best / ours
    x = f if f >= 1 else 1 / f
    text = f"{x:.2f}x" if x < 2 else f"{x:.1f}x" if x < 100 else f"{x:,.0f}x"
    if f >= 1:
        return f"**{text} better**", f
    return f"{text} worse", f


def _ingest_rate(r):
    return r["rows"] / r["seconds"] if r and r.get("seconds") else None


def _metric_rows(scale):
    """[(metric, {engine: value}, higher_is_better, formatter)] for the ingest table."""
    eng = scale["engines"]

    def get(e, *path):
        x = eng.get(e, {})
        for p in path:
            x = x.get(p) if isinstance(x, dict) else None
        return x

    rows = []
    rows.append(("SQL-script ingest, rows/s", {e: _ingest_rate(get(e, "ingest_sql")) for e in eng},
                 True, _num))
    rows.append(("CSV ingest, rows/s", {e: _ingest_rate(get(e, "ingest_csv")) for e in eng},
                 True, _num))
    rows.append(("bytes on disk per row", {e: (get(e, "ingest_csv", "bytes_on_disk") or 0) / scale["rows"]
                                           for e in eng}, False, lambda x: _num(x, 1)))
    rows.append(("peak RSS, SQL-script ingest, MiB",
                 {e: (get(e, "ingest_sql", "peak_rss_bytes") or 0) / 2**20 for e in eng}, False, _num))
    rows.append(("peak RSS, CSV ingest, MiB",
                 {e: (get(e, "ingest_csv", "peak_rss_bytes") or 0) / 2**20 for e in eng}, False, _num))
    return rows


def _best(values, peers, higher_is_better):
    vals = [values.get(p) for p in peers if values.get(p)]
    if not vals:
        return None
    return max(vals) if higher_is_better else min(vals)


def _query_table(scale, mode):
    peers = _peers(scale)
    key = f"queries_{mode}"
    lines = ["| query | tsdb median (min) ms | " + " | ".join(f"{LABEL[p]} median (min) ms" for p in peers)
             + " | tsdb vs best peer | rows | check |",
             "|---|---:|" + "---:|" * len(peers) + "---|---:|---|"]
    tq = scale["engines"]["tsdb"][key]
    factors = {}
    for name in scale.get("query_order") or list(tq):
        t = tq.get(name, {})
        cells = []
        for e in ["tsdb"] + peers:
            q = scale["engines"][e][key].get(name, {})
            cells.append(f"{_ms(q['median_ms'])} ({_ms(q['min_ms'])})" if "median_ms" in q
                         else f"error: {q.get('error', '?')[:60]}")
        best = _best({p: scale["engines"][p][key].get(name, {}).get("median_ms") for p in peers},
                     peers, False)
        text, f = _factor(t.get("median_ms"), best, False)
        factors[name] = f
        check = scale["correctness"].get(name, {}).get("tsdb_vs_duckdb", "?")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {text} | {t.get('rows', '–')} | "
                     + ("✓" if check == "ok" else check.replace("|", "\\|")) + " |")
    return lines, factors


def _summary(results):
    out = []
    for sname, scale in results["scales"].items():
        peers = _peers(scale)
        parts = []
        for metric, values, hib, fmt in _metric_rows(scale)[:3]:
            text, f = _factor(values.get("tsdb"), _best(values, peers, hib), hib)
            parts.append(f"{metric}: {text.replace('**', '')}")
        _, warm = _query_table(scale, "warm")
        slower = sorted(((f, q) for q, f in warm.items() if f is not None and f < 1))
        faster = [q for q, f in warm.items() if f is not None and f >= 1]
        line = (f"- **{sname}** ({scale['rows']:,} rows): " + "; ".join(parts) + ". "
                f"Warm queries: tsdb is at least as fast as the best peer on {len(faster)} of "
                f"{len(warm)}")
        if slower:
            line += ("; slower on " + ", ".join(f"{q} ({1 / f:.0f}x)" for f, q in slower))
        out.append(line + ".")
    parts = []
    c8 = (results.get("commit") or {}).get("8")
    if c8:
        parts.append(f"8 concurrent writers commit {_num(c8['commits_per_second'])} single-row "
                     f"INSERTs/s (target ≥ {COMMIT_TARGET:,})")
    for name, sc in results["scales"].items():
        r = sc["engines"]["tsdb"].get("stream_select_all")
        if r and r.get("peak_rss_bytes"):
            parts.append(f"`SELECT * FROM cpu` streamed at {name}: peak RSS "
                         f"{_num(r['peak_rss_bytes'] / 2**20)} MiB"
                         + (f" (target < {STREAM_RSS_TARGET_MIB})" if name == "1000x3h" else ""))
    if parts:
        out.append("- **Library API** (tsdb only): " + "; ".join(parts) + ".")
    return out


COMMIT_TARGET = 50_000        # commits/s with 8 writers (issue #10)
STREAM_RSS_TARGET_MIB = 200   # peak RSS of SELECT * FROM cpu streamed at 1000x3h (issue #9)


def _library_table(results):
    """Rows of the library-API figures (tsdb only; the peers are not measured: n/a)."""
    commit = results.get("commit") or {}
    stream = {name: sc["engines"]["tsdb"].get("stream_select_all")
              for name, sc in results["scales"].items()}
    if not commit and not any(stream.values()):
        return []
    L = ["## Library API figures (tsdb only)", "",
         "Measured in-process through `tsdb::Database` by the `tsbs` bench binary "
         "(benches/tsbs/library.rs); DuckDB and SQLite: n/a (not measured).", "",
         "| figure | tsdb | target | met |", "|---|---:|---|---|"]
    for w in sorted(commit, key=int):
        c = commit[w]
        target, met = "–", ""
        if w == "8":
            target = f"≥ {COMMIT_TARGET:,}"
            met = "✓" if c["commits_per_second"] >= COMMIT_TARGET else "✗"
        label = "writer" if w == "1" else "concurrent writers"
        L.append(f"| commits/s, {w} {label}, single-row INSERT via `execute` | "
                 f"{_num(c['commits_per_second'])} | {target} | {met} |")
        L.append(f"| commit latency p50 / p99, {w} {label}, µs | {_num(c['p50_us'])} / "
                 f"{_num(c['p99_us'])} | – | |")
        L.append(f"| commits per WAL fsync, {w} {label} | {_num(c['commits_per_sync'], 2)} "
                 f"({c['commits']:,} commits, {c['wal_syncs']:,} fsyncs) | – | |")
    for name, r in stream.items():
        if not r:
            continue
        mib = (r.get("peak_rss_bytes") or 0) / 2**20
        target, met = "–", ""
        if name == "1000x3h":
            target = f"< {STREAM_RSS_TARGET_MIB} MiB"
            met = "✓" if mib < STREAM_RSS_TARGET_MIB else "✗"
        L.append(f"| peak RSS, `SELECT * FROM cpu` streamed via `execute_stream`, {name}, MiB "
                 f"({r['rows']:,} rows in {r['seconds']:.2f} s) | {_num(mib)} | {target} | {met} |")
    return L + [""]


def markdown(results, path, chart_path):
    m, v, s = results["machine"], results["versions"], results["settings"]
    L = ["# Benchmarks: tsdb vs DuckDB and SQLite (TSBS cpu-only)", "",
         "Generated by `bench/run.sh` (see [How measured](#how-measured)); do not edit by hand. "
         f"Run of {results['generated_at']}, {results['wall_seconds'] / 60:.1f} min after the build.",
         "", "```sh", "bench/run.sh            # both scales, about 10 minutes after the release build",
         "bench/run.sh --scales small --skip-build   # 10 hosts x 3 h, a quick check of the kit", "```", "",
         "## Summary", "",
         "Ratios are tsdb against the best of the peers for that figure (\"better\" = higher "
         "throughput, or lower latency / bytes / memory).", ""]
    L += _summary(results)
    if results.get("failures"):
        L += ["", "**This run FAILED:**", ""] + [f"- {f}" for f in results["failures"]]
    L += ["", "Machine: " + f"{m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, "
          f"{m.get('os', '?')} (Linux {m.get('kernel')}).",
          "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".", ""]
    L += [f"![query latency per query and engine](bench/{Path(chart_path).name})", ""]
    L += _library_table(results)

    for sname, scale in results["scales"].items():
        peers = _peers(scale)
        L += [f"## {sname}: {scale['hosts']} hosts x {scale['hours']} h = {scale['rows']:,} rows", ""]
        L += ["| figure | tsdb | " + " | ".join(LABEL[p] for p in peers) + " | tsdb vs best peer |",
              "|---|---:|" + "---:|" * len(peers) + "---|"]
        for metric, values, hib, fmt in _metric_rows(scale):
            text, _ = _factor(values.get("tsdb"), _best(values, peers, hib), hib)
            L.append(f"| {metric} | {fmt(values.get('tsdb'))} | "
                     + " | ".join(fmt(values.get(p)) for p in peers) + f" | {text} |")
        t = scale["engines"]["tsdb"]
        sql_rows = {e: scale["engines"][e].get("ingest_sql", {}).get("rows") for e in ["tsdb"] + peers}
        prefix = any(sql_rows[p] and sql_rows[p] < scale["rows"] for p in peers)
        L += ["", f"SQL-script rows replayed: tsdb {sql_rows['tsdb']:,} (the whole script); "
              + ", ".join(f"{LABEL[p]} {sql_rows[p]:,}" for p in peers if sql_rows[p])
              + (" (the first rows of the same script: the peers' INSERT path is too slow to "
                 "replay it all in the time budget). " if prefix else ". ")
              + f"tsdb's flush + compaction after the CSV load took "
              f"{t['ingest_csv'].get('flush_compact_seconds', 0):.2f} s (not in the ingest rate); "
              f"opening the database took {_ms(t.get('open_median_ms'))} ms (median).", ""]
        lines, _ = _query_table(scale, "warm")
        L += [f"### Queries, warm ({s['runs']} runs after one warm-up)", ""] + lines + [""]
        lines, _ = _query_table(scale, "cold")
        L += [f"### Queries right after a restart ({s['runs']} runs, each the first query of a "
              "fresh process or connection)", ""] + lines + [""]

    L += ["## How measured", "",
          "- **Data:** `cargo bench --bench tsbs -- generate` (benches/tsbs/generate.rs), TSBS "
          "cpu-only shape: 10 string tags per host, `ts` every 10 s from 2016-01-01 00:00:00 UTC, "
          "10 `usage_*` fields as random walks with N(0,1) steps clamped to [0, 100], two decimals; "
          f"ChaCha8 PRNG, seed {s['seed']}. The same files feed every engine: `cpu.sql` (CREATE TABLE "
          f"+ INSERTs of {s['batch']} rows, time-major like TSBS) and `cpu.csv`.",
          "- **SQL-script ingest:** tsdb: `tsdb-shell DIR --bail < cpu.sql`, the whole script; "
          "every INSERT is fsynced in the WAL before the next one runs. Peers: the first "
          f"{s['peer_sql_rows']:,} rows of the same INSERT statements, each its own transaction "
          "(DuckDB: autocommit then CHECKPOINT; SQLite: autocommit, default pragmas, then the index). "
          "Time = wall clock of the whole child process (tsdb) or of the load (peers).",
          "- **CSV ingest:** tsdb: `tsdb-shell DIR -c \"COPY cpu FROM 'cpu.csv' WITH (FORMAT='csv')\"` "
          "into an empty table (process start included). DuckDB: `COPY cpu FROM 'cpu.csv' (HEADER)` "
          "+ CHECKPOINT. SQLite: Python `csv.reader` + `executemany` in one transaction, then "
          "`CREATE INDEX ON cpu (hostname, ts)`.",
          "- **Bytes per row:** everything in the data directory (tsdb, after `ADMIN flush_table('cpu')` "
          "and `ADMIN compact_table('cpu')`) or the database file(s) (peers) after the CSV load, "
          "divided by the row count.",
          "- **Peak RSS:** `ru_maxrss` of the ingesting child process (`os.wait4`): the tsdb-shell "
          "process, or the Python process driving the peer (interpreter included, ~10-20 MiB).",
          "- **Queries:** `bench/queries.sql`, the 15 TSBS queries with fixed hosts and windows, run "
          "in-process on the CSV-loaded copy: tsdb through `tsdb::Database` (`cargo bench --bench tsbs "
          "-- query`), DuckDB (result fetched as Arrow) and SQLite (`fetchall`, queries rewritten for "
          f"its date functions) from Python. Warm: one warm-up, then {s['runs']} timed runs; median "
          "and min. After a restart: before each timed run the database is closed and reopened "
          "(tsdb: `Database::close` + `Database::open` in the same process; peers: a new "
          "connection) and the first query is timed. The OS page cache is not dropped, so this "
          "measures a cold process (no caches of the engine), not a cold disk.",
          "- **Commits/s (library):** `tsbs commit` (benches/tsbs/library.rs) opens a fresh "
          "database in bench/work/commit/, creates the cpu table and runs 1, then 8, tokio tasks "
          f"(tokio's multi-thread runtime, one worker per core) for "
          f"{s.get('commit_seconds', 5):g} s each; every task loops over "
          "single-row `INSERT INTO cpu VALUES (...)` of its own host through `Database::execute`, "
          "and an acknowledged insert is fsynced in the WAL (concurrent ones share an fsync: "
          "group commit). Commits/s = acknowledged inserts / wall time; latency is per "
          "`execute` call; fsyncs are the WAL's own counter (`Region::wal_sync_count`). The row "
          "count is checked before and after a reopen.",
          "- **Streamed `SELECT *` (library):** `tsbs stream` opens the CSV-loaded (flushed and "
          "compacted) database of the scale, runs `Database::execute_stream(\"SELECT * FROM "
          "cpu\")` and counts the batches' rows without keeping them; peak RSS is `VmHWM` of "
          "`/proc/self/status` at the end (the whole process: open, WAL replay, scan).",
          "- **Correctness:** every tsdb result is compared with DuckDB's: same row count, same "
          "values (floats within 1e-6 relative), in order for queries with ORDER BY; any difference "
          "or tsdb error fails the run. SQLite's row counts are compared too.",
          "- The machine has 2 cores, shared and noisy: expect up to ±2x run-to-run variation on "
          "ingest and heavy queries; compare ratios within one run. Full numbers: "
          "[`docs/bench/results.json`](bench/results.json).", ""]
    Path(path).write_text("\n".join(L))


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = list(results["scales"].items())
    if not scales:
        return
    colors = {"tsdb": "#d62728", "duckdb": "#1f77b4", "sqlite": "#2ca02c"}
    fig, axes = plt.subplots(1, len(scales), figsize=(7.5 * len(scales), 8), squeeze=False)
    for ax, (sname, scale) in zip(axes[0], scales):
        engines = [e for e in ENGINES if e in scale["engines"]]
        names = scale.get("query_order") or list(scale["engines"]["tsdb"]["queries_warm"])
        h = 0.8 / len(engines)
        for i, e in enumerate(engines):
            qs = scale["engines"][e]["queries_warm"]
            vals = [qs.get(n, {}).get("median_ms") or 0 for n in names]
            ys = [k + (i - (len(engines) - 1) / 2) * h for k in range(len(names))]
            ax.barh(ys, vals, height=h, label=LABEL[e], color=colors[e])
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("median latency, ms (log scale; warm, lower is better)")
        ax.set_title(f"{sname}: {scale['rows']:,} rows")
        ax.grid(axis="x", which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("TSBS cpu-only query latency: tsdb vs DuckDB vs SQLite", y=0.99)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=len(labels))
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
