#!/usr/bin/env python3
"""Runs one generated project with strata and, when given, dbt-core with
dbt-duckdb: `seed`, then `run` at each thread count (each from a fresh
database holding only the seeds; the rest of target/ is kept), then `test`.
Prints wall time, peak memory and the sum of `execution_time` per
materialization (table, view, incremental, seed, test) from each tool's
run_results.json, and the ratios.

    python3 bench/run_compare.py --project bench/generated/p1000 \
        --strata target/release/strata [--dbt bench/.venv/bin/dbt] [--threads 1 4]

Materializations are read from each tool's manifest.json (`config.materialized`),
so an incremental model's first build counts as incremental, as its config says.
Then a second `run` at the first thread count, for the next day, where
incremental models update what the first run created ("incremental, next day").
dbt reads the execution date as `var('ds')` (see bench/dbt_example.py).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

KINDS = ["table", "view", "incremental", "seed", "test"]
REPORTED = ["table", "view", "incremental", "incremental, next day", "seed", "test"]


def timed(command, cwd):
    """Runs `command` in `cwd`; returns (wall seconds, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile() as rss:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"`{' '.join(command)}` in {cwd} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return wall, int(open(rss.name).read().split()[-1]) / 1024


def execution_times(project):
    """Sum of execution_time per materialization in target/run_results.json, and the node count of each."""
    target = os.path.join(project, "target")
    results = json.load(open(os.path.join(target, "run_results.json")))["results"]
    nodes = json.load(open(os.path.join(target, "manifest.json")))["nodes"]
    sums, counts = {}, {}
    for result in results:
        node = nodes.get(result["unique_id"], {})
        kind = node.get("resource_type", "")
        if kind == "model":
            kind = node.get("config", {}).get("materialized", "")
        if kind in KINDS:
            sums[kind] = sums.get(kind, 0.0) + float(result["execution_time"])
            counts[kind] = counts.get(kind, 0) + 1
    return sums, counts


class Tool:
    def __init__(self, name, command):
        self.name, self.command = name, command

    def invoke(self, verb, date, *flags):
        """The command line of `verb` for execution date `date` (dbt reads it as `var('ds')`)."""
        if self.name == "dbt":
            return [*self.command, verb, "--profiles-dir", ".", "--vars", f"{{ds: '{date}'}}", *flags]
        return [*self.command, verb, "--no-progress", "--date", date, *flags]


def measure(tool, project, thread_counts, date, next_date):
    """Everything measured for one tool: {'runs': {threads: {...}}, 'sums': {...}}."""
    figures = {"runs": {}, "sums": {}, "counts": {}}

    def fresh_seeds():
        # A fresh database (the file, its log and its spill folder
        # `<database>.tmp/`); the rest of target/ stays, as a scheduler's does.
        # Removing the whole folder would time the file system instead: ext4
        # creates files slowly just after thousands were deleted (5,000
        # compiled files took 2.6 s instead of 0.2 s), which a 1,000-model
        # project hardly meets, so it read as strata's cost growing faster
        # than the project.
        for path in glob.glob(os.path.join(project, "target", "*.duckdb*")):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        wall, peak = timed(tool.invoke("seed", date), project)
        return wall, peak

    wall, peak = fresh_seeds()
    sums, counts = execution_times(project)
    figures["seed"] = {"wall_s": wall, "peak_mb": peak}
    figures["sums"].update({k: v for k, v in sums.items() if k == "seed"})
    figures["counts"].update({k: v for k, v in counts.items() if k == "seed"})
    for index, threads in enumerate(thread_counts):
        if index > 0:
            fresh_seeds()
        wall, peak = timed(tool.invoke("run", date, "--threads", str(threads)), project)
        sums, counts = execution_times(project)
        figures["runs"][threads] = {"wall_s": wall, "peak_mb": peak, "sums": sums, "counts": counts}
    # Tests read what the last run built.
    wall, peak = timed(tool.invoke("test", date, "--threads", str(thread_counts[0])), project)
    sums, counts = execution_times(project)
    figures["test"] = {"wall_s": wall, "peak_mb": peak}
    figures["sums"]["test"] = sums.get("test", 0.0)
    figures["counts"]["test"] = counts.get("test", 0)
    # Models' sums at the first (lowest) thread count.
    first = figures["runs"][thread_counts[0]]
    figures["sums"].update(first["sums"])
    figures["counts"].update(first["counts"])
    # The next day's run: incremental models now update the tables they created.
    timed(tool.invoke("run", next_date, "--threads", str(thread_counts[0])), project)
    sums, counts = execution_times(project)
    figures["sums"]["incremental, next day"] = sums.get("incremental", 0.0)
    figures["counts"]["incremental, next day"] = counts.get("incremental", 0)
    return figures


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", required=True)
    parser.add_argument("--strata", required=True)
    parser.add_argument("--dbt")
    parser.add_argument("--dbt-project", help="the project dbt runs, if not --project (bench/dbt_example.py writes one)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--date", default="2026-11-20", help="the execution date of every command")
    parser.add_argument("--next-date", default="2026-11-21", help="the date of a second run, for incremental models")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()

    tools = [(Tool("strata", [os.path.abspath(args.strata)]), args.project)]
    if args.dbt:
        tools.append((Tool("dbt", [os.path.abspath(args.dbt)]), args.dbt_project or args.project))
    figures = {tool.name: measure(tool, project, args.threads, args.date, args.next_date) for tool, project in tools}

    names = [tool.name for tool, _ in tools]
    header = f"{'':<34}" + "".join(f"{name:>12}" for name in names) + ("   strata/dbt" if args.dbt else "")
    print(f"== {args.project}")
    print(header)
    for threads in args.threads:
        for what, label in (("wall_s", "wall (s)"), ("peak_mb", "peak memory (MB)")):
            values = [figures[name]["runs"][threads][what] for name in names]
            line = f"{f'run --threads {threads}, {label}':<34}" + "".join(f"{v:>12.2f}" for v in values)
            print(line + (f"{ratio(values[0], values[1]):>14}" if args.dbt else ""))
    print(f"sum of execution_time at --threads {args.threads[0]} (s), per materialization:")
    for kind in REPORTED:
        values = [figures[name]["sums"].get(kind, 0.0) for name in names]
        count = figures["strata"]["counts"].get(kind, 0)
        line = f"{f'  {kind} ({count} nodes)':<34}" + "".join(f"{v:>12.3f}" for v in values)
        print(line + (f"{ratio(values[0], values[1]):>14}" if args.dbt else ""))
    if args.dbt:
        slowest = [t for t in args.threads if t > 1]
        for threads in slowest:
            speedup = figures["dbt"]["runs"][threads]["wall_s"] / figures["strata"]["runs"][threads]["wall_s"]
            print(f"run --threads {threads}: strata {speedup:.1f}x faster than dbt (wall)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
