#!/usr/bin/env python3
"""`strata export` of a 1,000,000-row table on the local BigQuery emulator
and on DuckDB, as csv, xlsx and parquet: wall time and peak memory (GNU
time's maximum resident set size). BigQuery's rows arrive page by page, and
the peak stays flat whatever the row count.

    python3 bench/export_memory.py [ROWS]        # default 1000000

Needs the emulator's virtual environment (`.ci/run` or the tests create it in
~/.cache/strata/bq-venv); STRATA=path/to/strata picks the binary (default: the
release build).
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bigquery import ROOT, start_emulator  # noqa: E402

MODEL_BIGQUERY = """{{ config(materialized='table') }}
select x as id, concat('user_', cast(x as string)) as name, date_add(date '2026-01-01', interval mod(x, 365) day) as day,
       x * 0.25 as amount, mod(x, 2) = 0 as even
from unnest(generate_array(1, %d)) as x
"""

MODEL_DUCKDB = """{{ config(materialized='table') }}
select x as id, 'user_' || x as name, date '2026-01-01' + cast(x %% 365 as integer) as day, x * 0.25 as amount, x %% 2 = 0 as even
from range(1, %d + 1) as t(x)
"""


def timed(command, cwd):
    with tempfile.NamedTemporaryFile() as rss:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], cwd=cwd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return wall, int(open(rss.name).read().split()[-1]) / 1024


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata/target"))
    strata = os.environ.get("STRATA", os.path.join(target_dir, "release/strata"))
    project = tempfile.mkdtemp(prefix="strata-export-")
    os.makedirs(os.path.join(project, "models"))
    with open(os.path.join(project, "dbt_project.yml"), "w") as f:
        f.write("name: bench\nprofile: bench\n")
    child, port = start_emulator("bench")
    try:
        with open(os.path.join(project, "profiles.yml"), "w") as f:
            f.write(f"bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: target/dev.duckdb\n      schema: main\n"
                    f"    bq:\n      type: bigquery\n      api_endpoint: http://127.0.0.1:{port}/bigquery/v2\n      project: bench\n"
                    f"      dataset: main\n      location: US\n")
        for target, model in (("bq", MODEL_BIGQUERY), ("dev", MODEL_DUCKDB)):
            with open(os.path.join(project, "models/big.sql"), "w") as f:
                f.write(model % rows)
            wall, _ = timed([strata, "run", "--target", target, "--quiet"], project)
            print(f"== {rows:,} rows on {'the BigQuery emulator' if target == 'bq' else 'DuckDB'} (built in {wall:.1f} s)")
            for fmt in ("csv", "xlsx", "parquet"):
                out = os.path.join(project, f"big.{fmt}")
                wall, peak = timed([strata, "export", "--target", target, "--select", "big", "--output", out], project)
                size = os.path.getsize(out) / 1e6
                print(f"export {fmt:<7} {wall:6.1f} s  peak {peak:6.1f} MB  file {size:6.1f} MB")
    finally:
        child.kill()


if __name__ == "__main__":
    main()
