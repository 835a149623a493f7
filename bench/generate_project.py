#!/usr/bin/env python3
"""Generates a synthetic strata/dbt project of N models for benchmarks.

Models sit in layers; each reads 1-3 models of earlier layers (layer 0 reads
sources), sets config(), loops in Jinja and calls project and cross-database
macros, like the models analysts write. The raw tables are seeds, so the
project builds end to end, with strata and with dbt-duckdb alike. Deterministic: the same N gives the
same project.

    python3 bench/generate_project.py 10000 bench/generated/p10000
"""

import os
import random
import sys

LAYERS = 20


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    out = sys.argv[2] if len(sys.argv) > 2 else f"bench/generated/p{count}"
    rng = random.Random(count)
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    os.makedirs(os.path.join(out, "macros"), exist_ok=True)

    write(out, "dbt_project.yml", f"""\
name: bench
profile: bench
models:
  bench:
    +materialized: view
    +tags: [generated]
{"".join(f"    layer_{layer:02d}:{chr(10)}      +tags: [layer_{layer:02d}]{chr(10)}" for layer in range(LAYERS))}""")
    write(out, "profiles.yml", """\
bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/bench.duckdb
      schema: main
      threads: 4
""")
    tables = "".join(f"      - name: events_{t}\n" for t in range(10))
    # The raw tables are seeds, so `strata build` (and `dbt build`) run end to end.
    write(out, "models/sources.yml", f"version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n{tables}")
    for t in range(10):
        rows = "".join(f"{i},2026-11-{1 + i % 20:02d},{i % 7},{i % 11},{(i % 13) * 1.5}\n" for i in range(200))
        write(out, f"seeds/events_{t}.csv", "id,event_date,clicks,views,cost\n" + rows)
    write(out, "macros/metrics.sql", """\
{% macro metric_sum(column, alias) -%}
sum(coalesce({{ column }}, 0)) as {{ alias }}
{%- endmacro %}
""")

    per_layer = max(1, count // LAYERS)
    names = []
    properties = ["version: 2", "models:"]
    for index in range(count):
        layer = min(index // per_layer, LAYERS - 1)
        name = f"m_{index:05d}"
        earlier = [n for n in names if int(n[2:]) < layer * per_layer]
        if layer == 0 or not earlier:
            sources = [f"{{{{ source('raw', 'events_{rng.randrange(10)}') }}}}"]
        else:
            sources = [f"{{{{ ref('{parent}') }}}}" for parent in rng.sample(earlier[-per_layer * 2:], k=min(len(earlier), rng.randint(1, 3)))]
        materialized = ["view", "table", "incremental"][index % 3]
        joins = "\n".join(
            f"left join {source} as p{i} on p0.id = p{i}.id" for i, source in enumerate(sources[1:], start=1)
        )
        write(out, f"models/layer_{layer:02d}/{name}.sql", f"""\
{{{{ config(materialized='{materialized}', tags=['t{index % 10}']) }}}}
{{%- set metrics = ['clicks', 'views', 'cost'] %}}
select
    p0.id,
    p0.event_date,
    {{%- for metric in metrics %}}
    {{{{ metric_sum('p0.' ~ metric, metric) }}}},
    {{%- endfor %}}
    {{{{ dbt.dateadd('day', -1, "p0.event_date") }}}} as previous_date
from {sources[0]} as p0
{joins}
where p0.event_date <= date '{{{{ var("run_date", "2026-11-20") }}}}'
group by p0.id, p0.event_date
""")
        names.append(name)
        if index % 10 == 0:
            properties.append(f"  - name: {name}\n    columns:\n      - name: id\n        tests: [not_null]")
    write(out, "models/properties.yml", "\n".join(properties) + "\n")
    print(f"generated {count} models in {out}")


def write(root: str, path: str, text: str) -> None:
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
