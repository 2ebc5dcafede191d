#!/usr/bin/env bash
# The benchmark kit's one command (docs/BENCHMARKS.md): TSBS cpu-only ingest and queries on
# tsdb, DuckDB and SQLite at two scales, plus two library figures of tsdb (commits/s of 8
# concurrent writers, peak RSS of a streamed SELECT *; both modes of the `tsbs` bench binary);
# writes docs/bench/results.json, docs/bench/latency.png and docs/BENCHMARKS.md.
#
#   bench/run.sh                               # both scales (864,000 and 1,080,000 rows)
#   bench/run.sh --scales small --skip-build   # 10 hosts x 1 h: a quick check of the kit
#   bench/run.sh --help                        # every option of bench/run.py
#
# Needs: a Rust toolchain, Python 3.11+ (python3.11 or python3) with venv, network access to
# crates.io and PyPI on the first run. Data lands in bench/work/ (about 1.5 GB), the Python
# packages in bench/.venv/ (both gitignored).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

skip_build=false
args=()
for a in "$@"; do
    if [ "$a" = "--skip-build" ]; then skip_build=true; else args+=("$a"); fi
done

# Python: a venv of our own with the pinned packages.
py=$(command -v python3.11 || command -v python3)
if [ ! -x bench/.venv/bin/python ]; then
    echo "bench/run.sh: creating a Python venv in bench/.venv ($("$py" --version))" >&2
    "$py" -m venv bench/.venv
else
    echo "bench/run.sh: reusing the Python venv in bench/.venv" >&2
fi
if ! cmp -s bench/requirements.txt bench/.venv/.installed-requirements; then
    echo "bench/run.sh: installing bench/requirements.txt into bench/.venv (pip)" >&2
    bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
    cp bench/requirements.txt bench/.venv/.installed-requirements
fi

# Rust: one release build of the `tsbs` bench target. Cargo builds the tsdb-shell binary along
# with it (benches may run the package's binaries), with the same features: a separate
# `cargo build --release --bin tsdb-shell` would resolve features without the dev-dependencies
# and compile DataFusion a second time.
if [ "$skip_build" = false ]; then
    echo "bench/run.sh: cargo bench --bench tsbs --no-run (release build; about 20 minutes cold)" >&2
    build_json=$(cargo bench --bench tsbs --no-run --message-format=json-render-diagnostics)
    tsbs=$(printf '%s\n' "$build_json" | bench/.venv/bin/python -c '
import json, sys
exe = {}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        exe[(m["target"]["name"], tuple(m["target"]["kind"]))] = m["executable"]
print(exe[("tsbs", ("bench",))])
print(exe[("tsdb-shell", ("bin",))])')
    shell=$(printf '%s\n' "$tsbs" | sed -n 2p)
    tsbs=$(printf '%s\n' "$tsbs" | sed -n 1p)
else
    shell=target/release/tsdb-shell
    tsbs=$(ls -t target/release/deps/tsbs-* 2>/dev/null | grep -v '\.d$' | head -n 1 || true)
    if [ ! -x "$shell" ] || [ -z "$tsbs" ]; then
        echo "bench/run.sh: --skip-build, but no release build found; run without it once" >&2
        exit 1
    fi
fi
echo "bench/run.sh: tsdb-shell = $shell, tsbs = $tsbs" >&2

exec bench/.venv/bin/python bench/run.py --shell "$shell" --tsbs "$tsbs" \
    --rustc "$(rustc --version)" "${args[@]}"
