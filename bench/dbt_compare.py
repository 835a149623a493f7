#!/usr/bin/env python3
"""Builds dbt projects with strata and with dbt-core + dbt-duckdb, side by
side, and compares every table both produce: row count, column names and
types, and a hash of the rows' content (order-independent).

Each PROJECT is copied twice into a temporary directory, its packages
installed with `deps` when it declares any, and built with `build` by each tool (`--profiles-dir` the copy: the project's own
profiles.yml, whose default target must be a DuckDB file). Exits 1 when a
table differs or exists on one side only.

A project with a `steps/` folder is built once per step: before step N, the
files of `steps/N/` are copied into `seeds/` and loaded, and the tables are compared
after each step (snapshots over a changing source). Times a snapshot stamps
with the moment it ran (after 2026-11-30) differ between two runs, so they
are compared as `run time`, and so is a `dbt_scd_id` hashed from one.

Each unit test's verdict (pass, fail, error) in `target/run_results.json` is
compared too. A project with unit tests gets a `run` before its `build`: dbt
refuses a unit test whose input table does not exist yet (`this` of an
incremental model on its first build), where strata types the given rows from
their values.

    python3 bench/dbt_compare.py --strata target/debug/strata PROJECT [PROJECT...]

dbt-core and dbt-duckdb are installed into bench/.venv when it has no `dbt`
(`--dbt` names another). `--vars`, and the words of `--build-args`
(`--build-args "--event-time-start 2026-11-01 --event-time-end 2026-11-05"`),
are passed to both tools' `build`.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "bench", ".venv")


def ensure_dbt(dbt):
    if dbt:
        return dbt
    dbt = os.path.join(VENV, "bin", "dbt")
    if not os.path.exists(dbt):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "dbt-core~=1.11.0", "dbt-duckdb~=1.11.0"], check=True)
    return dbt


def build(command, cwd):
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}")
    return done.returncode


RUN_TIME = "2026-11-30"


def masked(columns, rows):
    """The rows, each time after RUN_TIME replaced by `run time`, and the
    `*scd_id` of a row that has one (a check snapshot hashes its run time)."""
    times = [i for i, (_, kind) in enumerate(columns) if kind.startswith("TIMESTAMP")]
    ids = [i for i, (name, _) in enumerate(columns) if name.endswith("scd_id")]
    out = []
    for row in rows:
        row = list(row)
        ran = False
        for i in times:
            if row[i] is not None and str(row[i]) > RUN_TIME:
                row[i] = "run time"
                ran = True
        if ran:
            for i in ids:
                row[i] = "hash of a run time"
        out.append(tuple("NULL" if v is None else str(v) for v in row))
    return sorted(out)


def tables(database):
    """{schema.table: (rows, [(column, type)], content hash)} of a DuckDB file, read with dbt's duckdb."""
    import duckdb
    import hashlib

    connection = duckdb.connect(database, read_only=True)
    found = {}
    names = connection.execute(
        "select table_schema, table_name from information_schema.tables where table_type in ('BASE TABLE', 'VIEW') order by 1, 2"
    ).fetchall()
    for schema, name in names:
        relation = f'"{schema}"."{name}"'
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
        rows = masked(columns, connection.execute(f"select * from {relation}").fetchall())
        content = hashlib.sha1(repr(rows).encode()).hexdigest()
        found[f"{schema}.{name}"] = (len(rows), columns, content)
    connection.close()
    return found


def database_of(project):
    files = [f for f in glob.glob(os.path.join(project, "**", "*.duckdb"), recursive=True) if "/dbt_packages/" not in f]
    if len(files) != 1:
        sys.exit(f"expected one DuckDB file under {project}, found {files}")
    return files[0]


def verdicts(project):
    """{unique_id: status} of the unit tests of the last run in `project`."""
    import json

    with open(os.path.join(project, "target", "run_results.json")) as file:
        results = json.load(file)["results"]
    return {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}


def has_unit_tests(project):
    return any("unit_tests:" in open(path).read() for path in glob.glob(os.path.join(project, "**", "*.yml"), recursive=True))


def steps(project):
    """The source-change steps of `project` (`steps/1`, `steps/2`, ...), or one step of nothing."""
    folder = os.path.join(project, "steps")
    if not os.path.isdir(folder):
        return [None]
    return sorted((os.path.join(folder, step) for step in os.listdir(folder)), key=lambda path: int(os.path.basename(path)))


def compare(project, strata, dbt, variables, build_args):
    name = os.path.basename(os.path.normpath(project))
    differences = 0
    with tempfile.TemporaryDirectory() as scratch:
        copies = {}
        for tool in ("dbt", "strata"):
            copy = os.path.join(scratch, tool)
            shutil.copytree(project, copy, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "*.duckdb*"))
            if any(os.path.exists(os.path.join(copy, f)) for f in ("packages.yml", "dependencies.yml")):
                build([dbt, "deps", "--profiles-dir", copy] if tool == "dbt" else [strata, "deps"], copy)
            copies[tool] = copy
        for step in steps(project):
            sides = {}
            for tool, copy in copies.items():
                for source in glob.glob(os.path.join(step, "*")) if step else []:
                    shutil.copy(source, os.path.join(copy, "seeds"))
                # Seeds first: dbt does not order a source after the seed that loads it.
                # dbt truncates a seed's table and reloads it, so a seed that gains a column needs `--full-refresh`.
                build([dbt, "seed", "--full-refresh", "--profiles-dir", copy] if tool == "dbt" else [strata, "seed", "--no-progress"], copy)
                command = [dbt, "build", "--profiles-dir", copy] if tool == "dbt" else [strata, "build", "--profiles-dir", copy, "--no-progress"]
                if variables:
                    command += ["--vars", variables]
                command += build_args
                if has_unit_tests(project):
                    build([part if part != "build" else "run" for part in command], copy)
                build(command, copy)
                sides[tool] = (tables(database_of(copy)), verdicts(copy))
            print(f"== {name}" + (f" after step {os.path.basename(step)}" if step else ""))
            differences += report({tool: side[0] for tool, side in sides.items()})
            differences += report_verdicts({tool: side[1] for tool, side in sides.items()})
    return differences


def report_verdicts(sides):
    """Prints each unit test's verdict on both sides; the number that differ."""
    differences = 0
    for test in sorted(set(sides["dbt"]) | set(sides["strata"])):
        ours, theirs = sides["strata"].get(test), sides["dbt"].get(test)
        same = ours == theirs
        print(f"  {test}: {ours} (strata) vs {theirs} (dbt)" if not same else f"  {test}: same verdict ({ours})")
        differences += not same
    return differences


def report(sides):
    """Prints each table's comparison; the number of tables that differ."""
    differences = 0
    for table in sorted(set(sides["dbt"]) | set(sides["strata"])):
        ours, theirs = sides["strata"].get(table), sides["dbt"].get(table)
        if ours is None or theirs is None:
            print(f"  {table}: only built by {'dbt' if ours is None else 'strata'}")
            differences += 1
            continue
        problems = []
        if ours[0] != theirs[0]:
            problems.append(f"rows {ours[0]} (strata) vs {theirs[0]} (dbt)")
        if ours[1] != theirs[1]:
            problems.append(f"columns {ours[1]} (strata) vs {theirs[1]} (dbt)")
        if not problems and ours[2] != theirs[2]:
            problems.append("same rows and types, different content")
        print(f"  {table}: {'; '.join(problems) if problems else f'same ({ours[0]} rows, {len(ours[1])} columns)'}")
        differences += bool(problems)
    return differences


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--strata", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata/target")), "debug", "strata"))
    parser.add_argument("--dbt")
    parser.add_argument("--vars")
    parser.add_argument("--build-args", default="")
    args = parser.parse_args()
    dbt = ensure_dbt(args.dbt)
    sys.path.insert(0, glob.glob(os.path.join(os.path.dirname(os.path.dirname(dbt)), "lib", "python3*", "site-packages"))[0])
    differences = sum(compare(os.path.abspath(project), os.path.abspath(args.strata), dbt, args.vars, args.build_args.split()) for project in args.projects)
    print(f"{differences} table(s) differ" if differences else "every table is the same")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
