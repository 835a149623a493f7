#!/usr/bin/env bash
# strata's benchmarks, on generated projects, with a release build:
#   - compile (cold, warm, empty target) and `ls --select X+` on 10,000 models
#     (targets: 0.3 s, 0.2 s, 150 MB)
#   - `run` on 1,000 models: wall time and orchestration overhead per node
#     (wall time minus time inside DuckDB, on one thread; target 1 ms)
#   - `run` on 1,000 models and the example project beside dbt-core +
#     dbt-duckdb, when `STRATA_BENCH_DBT=1` (installs them into bench/.venv);
#     `run` on 5,000 models, with DuckDB's default memory and bounded
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
(cd "$generated/p1000" && rm -rf target/*.duckdb* && "$strata" seed --quiet >/dev/null)
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

# strata beside dbt-core + dbt-duckdb (installed into bench/.venv) on the same
# projects: wall, peak memory, and the sum of execution_time per materialization.
dbt=()
if [ "${STRATA_BENCH_DBT:-0}" = 1 ]; then
  [ -x bench/.venv/bin/dbt ] || { python3 -m venv bench/.venv && bench/.venv/bin/pip install --quiet "dbt-core~=1.11.0" "dbt-duckdb~=1.11.0"; }
  dbt=(--dbt bench/.venv/bin/dbt)
fi
python3 bench/run_compare.py --project "$generated/p1000" --strata "$strata" "${dbt[@]}" --threads 1 4
# The example project; dbt runs a copy with the execution date as a var.
rm -rf "$generated/example" && mkdir -p "$generated/example"
cp -r models macros seeds data_tests dbt_project.yml profiles.yml "$generated/example/"
example_dbt=()
if [ ${#dbt[@]} -gt 0 ]; then
  python3 bench/dbt_example.py "$generated/example-dbt" >/dev/null
  example_dbt=("${dbt[@]}" --dbt-project "$generated/example-dbt")
fi
python3 bench/run_compare.py --project "$generated/example" --strata "$strata" "${example_dbt[@]}" --threads 1 4
[ -d "$generated/p5000" ] || python3 bench/generate_project.py 5000 "$generated/p5000"
# dbt takes minutes on 5,000 models: strata alone, for how its cost grows,
# then with DuckDB's cache bounded (`settings: {memory_limit: ...}`).
python3 bench/run_compare.py --project "$generated/p5000" --strata "$strata" --threads 4 1
rm -rf "$generated/p5000-bounded" && cp -r "$generated/p5000" "$generated/p5000-bounded"
sed -i 's/^      threads: 4$/      threads: 4\n      settings: {memory_limit: 128MB, checkpoint_threshold: 8MB}/' "$generated/p5000-bounded/profiles.yml"
python3 bench/run_compare.py --project "$generated/p5000-bounded" --strata "$strata" --threads 4 1
