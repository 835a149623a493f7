#!/usr/bin/env bash
# strata's benchmarks, on generated projects, with a release build:
#   - compile (cold, warm, empty target) and `ls --select X+` on 10,000 models
#     (targets: 0.3 s, 0.2 s, 150 MB)
#   - `run` on 1,000 models: wall time and orchestration overhead per node
#     (wall time minus time inside DuckDB, on one thread; target 1 ms)
#   - the same 1,000-model project with dbt-core + dbt-duckdb, when
#     `STRATA_BENCH_DBT=1` (installs them into bench/.venv)
# Usage: bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
cargo build --release --quiet
strata="$CARGO_TARGET_DIR/release/strata"
generated=bench/generated
[ -d "$generated/p10000" ] || python3 bench/generate_project.py 10000 "$generated/p10000"
[ -d "$generated/p1000" ] || python3 bench/generate_project.py 1000 "$generated/p1000"

echo "== 10,000 models"
(cd "$generated/p10000" && "$strata" compile --quiet --date 2026-11-20)
# cold: every statement SQL-checked (no remembered checks), compiled files in
# place, model files in the OS cache (as after editing them; this VM evicts its
# page cache within seconds, which would otherwise time the disk)
python3 bench/measure.py --runs 15 --cwd "$generated/p10000" --label "compile, cold" \
  --before "rm -f target/.strata-checked-sql && cat models/*/*.sql > /dev/null" -- "$strata" compile --date 2026-11-20
# warm: nothing changed since the last compile
python3 bench/measure.py --runs 10 --cwd "$generated/p10000" --label "compile, warm" -- "$strata" compile --date 2026-11-20
# first: into an empty target directory (creates 11,000 files)
python3 bench/measure.py --runs 3 --cwd "$generated/p10000" --label "compile, empty target" \
  --before "rm -rf target" -- "$strata" compile --date 2026-11-20
python3 bench/measure.py --cwd "$generated/p10000" --label "ls --select m_00100+" -- "$strata" ls --select m_00100+
python3 bench/measure.py --cwd "$generated/p10000" --label "ls (everything)" -- "$strata" ls

echo "== 1,000 models on DuckDB"
(cd "$generated/p1000" && rm -rf target && "$strata" seed --quiet >/dev/null)
python3 bench/measure.py --runs 3 --cwd "$generated/p1000" --label "run (4 threads)" -- "$strata" run --quiet --threads 4
python3 bench/measure.py --runs 3 --cwd "$generated/p1000" --label "run (1 thread)" -- "$strata" run --quiet --threads 1
python3 - "$generated/p1000/target/run_results.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
nodes = len(results["results"])
wall, inside = results["elapsed_time"], results["strata"]["warehouse_seconds"]
print(json.dumps({"label": "orchestration overhead (1 thread)", "nodes": nodes, "wall_s": round(wall, 3),
                  "inside_duckdb_s": round(inside, 3), "overhead_ms_per_node": round((wall - inside) / nodes * 1000, 3)}))
PY

if [ "${STRATA_BENCH_DBT:-0}" = 1 ]; then
  echo "== the same project with dbt-core + dbt-duckdb"
  [ -x bench/.venv/bin/dbt ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install --quiet "dbt-core~=1.10.0" "dbt-duckdb~=1.10.0"; }
  (cd "$generated/p1000" && rm -rf target && ../../.venv/bin/dbt seed --profiles-dir . --quiet >/dev/null)
  python3 bench/measure.py --runs 1 --cwd "$generated/p1000" --label "dbt run (4 threads)" -- ../../.venv/bin/dbt run --profiles-dir . --threads 4 --quiet
fi
