#!/usr/bin/env python3
"""What installed packages cost a compile: a generated project of N models,
compiled warm and cold without packages and with two generated packages of dbt
packages' size installed (by default 600 macros: dispatching macros with
`default__` and adapter variants, lists built with `append`, as dbt_utils and
dbt_date write them), which the models do not call. Also times `deps` when
the lock and the install already match.

    python3 bench/package_cost.py [MODELS] [MACROS]    # default 2000 600

Uses the debug binary unless STRATA names another.
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 20
STRATA = os.environ.get("STRATA", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/strata/target")), "debug", "strata"))

MACRO = """{{% macro {name}(column, part='day') -%}}
    {{{{ return(adapter.dispatch('{name}', '{package}')(column, part)) }}}}
{{%- endmacro %}}

{{% macro default__{name}(column, part) -%}}
{{%- set pieces = [] -%}}
{{%- for i in range(3) -%}}
    {{%- do pieces.append("coalesce(" ~ column ~ ", " ~ i ~ ")") -%}}
{{%- endfor -%}}
{{{{ dbt.date_trunc(part, pieces | join(' + ')) }}}}
{{%- endmacro %}}

{{% macro bigquery__{name}(column, part) -%}}
    timestamp_trunc({{{{ column }}}}, {{{{ part }}}})
{{%- endmacro %}}
"""


def write_package(path, name, macros):
    os.makedirs(os.path.join(path, "macros"), exist_ok=True)
    with open(os.path.join(path, "dbt_project.yml"), "w") as f:
        f.write(f"name: {name}\nversion: '1.0.0'\nconfig-version: 2\n")
    per_file = 10
    for start in range(0, macros, per_file):
        with open(os.path.join(path, "macros", f"m{start:04}.sql"), "w") as f:
            for i in range(start, min(start + per_file, macros)):
                f.write(MACRO.format(name=f"{name}_m{i}", package=name))


def timed(command, cwd, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def cpu_timed(command, cwd):
    """Wall-clock and CPU (user + system) seconds of one run: on a shared
    machine the CPU time varies less than the wall clock."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    models = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    macros = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    base = os.path.join(ROOT, "bench", "generated", f"packages{models}")
    shutil.rmtree(base, ignore_errors=True)
    plain = os.path.join(base, "plain")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "generate_project.py"), str(models), plain], check=True, stdout=subprocess.DEVNULL)
    with_packages = os.path.join(base, "with_packages")
    shutil.copytree(plain, with_packages)
    for package in ("big_utils", "big_dates"):
        write_package(os.path.join(with_packages, "local_packages", package), package, macros // 2)
    with open(os.path.join(with_packages, "packages.yml"), "w") as f:
        f.write("packages:\n  - local: local_packages/big_utils\n  - local: local_packages/big_dates\n")
    subprocess.run([STRATA, "deps"], cwd=with_packages, check=True, stdout=subprocess.DEVNULL)

    for project in (plain, with_packages):
        subprocess.run([STRATA, "compile", "--date", "2026-11-20"], cwd=project, check=True, stdout=subprocess.DEVNULL)
    # Warm: `target/` as the last compile left it (its checked SQL and compiled
    # files); cold: without `target/`, so every model's SQL is checked and written.
    for state in ("warm", "cold"):
        walls, cpus = {}, {}
        # Alternating, so both see the same machine; and the ratio of each
        # pair's times, steadier than either on a shared machine.
        for _ in range(RUNS):
            for label, project in (("without packages", plain), (f"with {macros} package macros", with_packages)):
                if state == "cold":
                    shutil.rmtree(os.path.join(project, "target"), ignore_errors=True)
                wall, cpu = cpu_timed([STRATA, "compile", "--date", "2026-11-20"], project)
                walls.setdefault(label, []).append(wall)
                cpus.setdefault(label, []).append(cpu)
        for label, times in walls.items():
            cpu = cpus[label]
            print(
                f"compile {models} models, {state}, {label}: best {min(times):.2f} s, median {statistics.median(times):.2f} s;"
                f" CPU best {min(cpu):.2f} s, median {statistics.median(cpu):.2f} s"
            )
        (plain_walls, package_walls), (plain_cpus, package_cpus) = walls.values(), cpus.values()
        wall_ratio = statistics.median(b / a for a, b in zip(plain_walls, package_walls))
        cpu_ratio = statistics.median(b / a for a, b in zip(plain_cpus, package_cpus))
        print(f"  with packages / without, median of {RUNS} pairs: wall {wall_ratio:.3f}, CPU {cpu_ratio:.3f}")
    best, median = timed([STRATA, "deps"], with_packages, 10)
    print(f"deps with the lock unchanged and everything installed: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms")


if __name__ == "__main__":
    main()
