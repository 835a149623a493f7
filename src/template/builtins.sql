{#- strata's built-in macros. A project macro of the same name takes precedence;
    each stays reachable as `dbt.<name>`. Cross-database macros dispatch on the
    target type, as dbt's do: `<adapter>__name`, then `default__name`. -#}

{%- macro dateadd(datepart, interval, from_date_or_timestamp) -%}
{{ adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp) }}
{%- endmacro -%}
{%- macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
({{ from_date_or_timestamp }} + interval ({{ interval }}) {{ datepart }})
{%- endmacro -%}
{%- macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
date_add({{ from_date_or_timestamp }}, interval ({{ interval }}) {{ datepart }})
{%- endmacro -%}
{%- macro bigquery__dateadd(datepart, interval, from_date_or_timestamp) -%}
datetime_add(cast({{ from_date_or_timestamp }} as datetime), interval {{ interval }} {{ datepart }})
{%- endmacro -%}

{%- macro datediff(first_date, second_date, datepart) -%}
{{ adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart) }}
{%- endmacro -%}
{%- macro default__datediff(first_date, second_date, datepart) -%}
date_diff('{{ datepart }}', cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
{%- endmacro -%}
{%- macro bigquery__datediff(first_date, second_date, datepart) -%}
datetime_diff(cast({{ second_date }} as datetime), cast({{ first_date }} as datetime), {{ datepart }})
{%- endmacro -%}

{%- macro date_trunc(datepart, date) -%}
{{ adapter.dispatch('date_trunc', 'dbt')(datepart, date) }}
{%- endmacro -%}
{%- macro default__date_trunc(datepart, date) -%}
date_trunc('{{ datepart }}', {{ date }})
{%- endmacro -%}
{%- macro bigquery__date_trunc(datepart, date) -%}
timestamp_trunc(cast({{ date }} as timestamp), {{ datepart }})
{%- endmacro -%}

{%- macro safe_cast(field, type) -%}
{{ adapter.dispatch('safe_cast', 'dbt')(field, type) }}
{%- endmacro -%}
{%- macro default__safe_cast(field, type) -%}
try_cast({{ field }} as {{ type }})
{%- endmacro -%}
{%- macro bigquery__safe_cast(field, type) -%}
safe_cast({{ field }} as {{ type }})
{%- endmacro -%}

{%- macro current_timestamp() -%}
{{ adapter.dispatch('current_timestamp', 'dbt')() }}
{%- endmacro -%}
{%- macro default__current_timestamp() -%}
current_timestamp
{%- endmacro -%}
{%- macro bigquery__current_timestamp() -%}
current_timestamp()
{%- endmacro -%}

{%- macro type_string() -%}
{{ adapter.dispatch('type_string', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_string() -%}varchar{%- endmacro -%}
{%- macro bigquery__type_string() -%}string{%- endmacro -%}

{%- macro type_int() -%}
{{ adapter.dispatch('type_int', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_int() -%}integer{%- endmacro -%}
{%- macro bigquery__type_int() -%}int64{%- endmacro -%}

{%- macro type_timestamp() -%}
{{ adapter.dispatch('type_timestamp', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_timestamp() -%}timestamp{%- endmacro -%}

{%- macro hash(field) -%}
{{ adapter.dispatch('hash', 'dbt')(field) }}
{%- endmacro -%}
{%- macro default__hash(field) -%}
md5(cast({{ field }} as varchar))
{%- endmacro -%}
{%- macro bigquery__hash(field) -%}
to_hex(md5(cast({{ field }} as string)))
{%- endmacro -%}

{%- macro concat(fields) -%}
{{ adapter.dispatch('concat', 'dbt')(fields) }}
{%- endmacro -%}
{%- macro default__concat(fields) -%}
{{ fields | join(' || ') }}
{%- endmacro -%}
{%- macro bigquery__concat(fields) -%}
concat({{ fields | join(', ') }})
{%- endmacro -%}

{#- Schema and alias naming, as dbt does by default: a custom schema `x`
    becomes `<target schema>_x`. strata computes these defaults in Rust unless
    the project overrides them; these are what `dbt.generate_schema_name` calls. -#}
{%- macro generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none or custom_schema_name == '' -%}
{{ target.schema }}
{%- else -%}
{{ target.schema }}_{{ custom_schema_name | trim }}
{%- endif -%}
{%- endmacro -%}
{%- macro generate_alias_name(custom_alias_name, node) -%}
{%- if custom_alias_name is none or custom_alias_name == '' -%}
{{ node.name }}
{%- else -%}
{{ custom_alias_name | trim }}
{%- endif -%}
{%- endmacro -%}

{#- Generic data tests: each selects the rows that fail. -#}
{%- test not_null(model, column_name) -%}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
{%- endtest -%}

{%- test unique(model, column_name) -%}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{%- endtest -%}

{%- test accepted_values(model, column_name, values, quote=true) -%}
select {{ column_name }} as value_field, count(*) as n_records
from {{ model }}
where {{ column_name }} not in (
  {%- for value in values -%}
  {%- if quote %}{{ string_literal(value) }}{% else %}{{ value }}{% endif -%}
  {%- if not loop.last %}, {% endif -%}
  {%- endfor -%}
)
group by {{ column_name }}
{%- endtest -%}

{%- test relationships(model, column_name, to, field) -%}
with child as (
  select {{ column_name }} as from_field
  from {{ model }}
  where {{ column_name }} is not null
),
parent as (
  select {{ field }} as to_field
  from {{ to }}
)
select from_field
from child
left join parent on child.from_field = parent.to_field
where parent.to_field is null
{%- endtest -%}
