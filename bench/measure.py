#!/usr/bin/env python3
"""Times commands on generated projects: wall time (best and median of N runs)
and peak memory (GNU time's maximum resident set size).

    python3 bench/measure.py --runs 5 --cwd DIR [--before "rm -f x"] -- strata compile
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def measure(command, cwd, runs, env=None, before=None):
    walls, peaks = [], []
    for _ in range(runs):
        if before:
            subprocess.run(before, shell=True, cwd=cwd, check=True)
        with tempfile.NamedTemporaryFile() as rss:
            started = time.perf_counter()
            done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], cwd=cwd, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            walls.append(time.perf_counter() - started)
            if done.returncode not in (0, 1):
                sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
            peaks.append(int(open(rss.name).read().split()[-1]) / 1024)
    return {"best_s": round(min(walls), 3), "median_s": round(statistics.median(walls), 3), "peak_mb": round(max(peaks), 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cwd", default=".")
    parser.add_argument("--label", default="")
    parser.add_argument("--before", help="a shell command run (untimed) before each run")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = measure(command, args.cwd, args.runs, before=args.before)
    print(json.dumps({"label": args.label or " ".join(command), **result}))


if __name__ == "__main__":
    main()
