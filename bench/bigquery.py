#!/usr/bin/env python3
"""`strata build` of a generated project on the local BigQuery emulator, at
`--threads 1` and `--threads 8`: wall time, the time inside the warehouse
(jobs sent, waited for and read), and strata's own time per node apart from
waiting for jobs (the wall time minus the warehouse time, at one thread).

    python3 bench/bigquery.py [MODELS]        # default 200

Needs the emulator's virtual environment (`.ci/run` or the tests create it in
~/.cache/strata/bq-venv) and a release build.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(project):
    venv = os.environ.get("STRATA_BQ_VENV", os.path.expanduser("~/.cache/strata/bq-venv"))
    port = free_port()
    child = subprocess.Popen(
        [os.path.join(venv, "bin/python"), os.path.join(ROOT, "tests/emulator/launch.py"), "start", "--ephemeral",
         "--rest-host", "127.0.0.1", "--rest-port", str(port), "--grpc-port", "0", "--project", project,
         "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return child, port
        except OSError:
            time.sleep(0.2)
    child.kill()
    sys.exit("the emulator did not start")


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    project_dir = os.path.join(ROOT, "bench/generated", f"p{count}")
    if not os.path.isdir(project_dir):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/generate_project.py"), str(count), project_dir], check=True)
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata/target"))
    strata = os.path.join(target_dir, "release/strata")
    print(f"== {count} models on the BigQuery emulator")
    for threads in (1, 8):
        child, port = start_emulator("bench")
        try:
            profiles = os.path.join(project_dir, "profiles-bigquery")
            os.makedirs(profiles, exist_ok=True)
            with open(os.path.join(profiles, "profiles.yml"), "w") as f:
                f.write(f"bench:\n  target: bq\n  outputs:\n    bq:\n      type: bigquery\n"
                        f"      api_endpoint: http://127.0.0.1:{port}/bigquery/v2\n      project: bench\n"
                        f"      dataset: main\n      location: US\n")
            started = time.perf_counter()
            done = subprocess.run([strata, "build", "--profiles-dir", profiles, "--threads", str(threads), "--quiet",
                                   "--date", "2026-11-20"], cwd=project_dir, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"strata build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
            with open(os.path.join(project_dir, "target/run_results.json")) as f:
                results = json.load(f)
            nodes = len(results["results"])
            inside = results["strata"]["warehouse_seconds"]
            line = f"--threads {threads}: {wall:.1f} s wall for {nodes} nodes, {inside:.1f} s inside the warehouse (summed over workers)"
            if threads == 1:
                line += f"; strata's own time {1000 * (wall - inside) / nodes:.2f} ms per node"
            print(line)
        finally:
            child.kill()
            child.wait()


if __name__ == "__main__":
    main()
