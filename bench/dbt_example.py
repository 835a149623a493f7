#!/usr/bin/env python3
"""Copies the example project at the repository root into OUT, rewritten so
that dbt-core with dbt-duckdb runs the same models for the same date:

  - the execution date comes from `--vars '{ds: YYYY-MM-DD}'` (dbt has no `ds`);
  - source checks (`wait_for`, strata's sensors) and exposures' `tableau:`
    and `export:` sections are left out, as dbt has none of them;
  - a partition replacement (`partition_by={'field': F, ...}`, which
    dbt-duckdb reads as something else) becomes dbt-duckdb's equivalent,
    `incremental_strategy='delete+insert'` with `unique_key=F`;
  - only the DuckDB target is kept.

    python3 bench/dbt_example.py bench/generated/example-dbt
"""

import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "generated", "example")
    shutil.rmtree(out, ignore_errors=True)
    for folder in ("models", "macros", "seeds", "data_tests"):
        shutil.copytree(os.path.join(ROOT, folder), os.path.join(out, folder))
    shutil.copy(os.path.join(ROOT, "dbt_project.yml"), out)

    profiles = open(os.path.join(ROOT, "profiles.yml")).read()
    open(os.path.join(out, "profiles.yml"), "w").write(profiles.split("    prod:")[0])

    macros = os.path.join(out, "macros", "utm.sql")
    text = open(macros).read()
    text = text.replace(
        "macros.ds_add(ds, offset_days)",
        "(modules.datetime.date.fromisoformat(var('ds', '1970-01-01') | string) + modules.datetime.timedelta(days=offset_days)).isoformat()",
    )
    open(macros, "w").write(text)

    for folder, _, files in os.walk(os.path.join(out, "models")):
        for name in files:
            if name.endswith(".sql"):
                path = os.path.join(folder, name)
                text = open(path).read()
                text = re.sub(r"partition_by=\{'field': '(\w+)', 'data_type': '\w+'\}",
                              r"unique_key='\1', incremental_strategy='delete+insert'", text)
                open(path, "w").write(text)

    sources = os.path.join(out, "models", "sources.yml")
    lines, skipping = [], None
    for line in open(sources).read().splitlines():
        indent = len(line) - len(line.lstrip())
        if skipping is not None and (not line.strip() or indent > skipping):
            continue
        skipping = None
        if line.strip().startswith("wait_for:") or line.strip().startswith("# "):
            skipping = indent if line.strip().startswith("wait_for:") else None
            continue
        lines.append(line)
    open(sources, "w").write("\n".join(lines) + "\n")

    exposures = os.path.join(out, "models", "exposures.yml")
    text = open(exposures).read()
    open(exposures, "w").write(re.sub(r"\n\s+(tableau|export): \{[^\n]*\}", "", text))
    print(f"wrote a dbt copy of the example project to {out}")


if __name__ == "__main__":
    main()
