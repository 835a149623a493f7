{#- strata's built-in macros. A project macro of the same name takes precedence;
    each stays reachable as `dbt.<name>`. Cross-database macros dispatch on the
    target type, as dbt's do: `<adapter>__name`, then `default__name`.
    `default__` is dbt's own default; each warehouse's variants, where its dbt
    adapter renders something else, are in its folder (`src/warehouse/*/macros.sql`).
    Type names are what each adapter's `api.Column.translate_type` gives. -#}

{#- ---------------------------------------------------------------- dates -#}

{%- macro date_trunc(datepart, date) -%}
{{ adapter.dispatch('date_trunc', 'dbt')(datepart, date) }}
{%- endmacro -%}
{%- macro default__date_trunc(datepart, date) -%}
date_trunc('{{ datepart }}', {{ date }})
{%- endmacro -%}

{%- macro dateadd(datepart, interval, from_date_or_timestamp) -%}
{{ adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp) }}
{%- endmacro -%}
{%- macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro -%}

{%- macro datediff(first_date, second_date, datepart) -%}
{{ adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart) }}
{%- endmacro -%}
{%- macro default__datediff(first_date, second_date, datepart) -%}
datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro -%}

{%- macro last_day(date, datepart) -%}
{{ adapter.dispatch('last_day', 'dbt')(date, datepart) }}
{%- endmacro -%}
{%- macro default_last_day(date, datepart) -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date)
{%- endmacro -%}
{%- macro default__last_day(date, datepart) -%}
{{ dbt.default_last_day(date, datepart) }}
{%- endmacro -%}

{#- `dbt.date(2026, 11, 20)`: a date from its year, month and day. -#}
{%- macro date(year, month, day) -%}
{{ adapter.dispatch('date', 'dbt')(year, month, day) }}
{%- endmacro -%}
{%- macro default__date(year, month, day) -%}
to_date('{{ "%04d-%02d-%02d" | format(year, month, day) }}', 'YYYY-MM-DD')
{%- endmacro -%}

{%- macro current_timestamp() -%}
{{ adapter.dispatch('current_timestamp', 'dbt')() }}
{%- endmacro -%}
{%- macro default__current_timestamp() -%}
{{ exceptions.raise_compiler_error('current_timestamp macro not implemented for adapter ' ~ adapter.type()) }}
{%- endmacro -%}

{#- Deprecated in dbt; kept for projects that used dbt_utils.current_timestamp. -#}
{%- macro current_timestamp_backcompat() -%}
{{ adapter.dispatch('current_timestamp_backcompat', 'dbt')() }}
{%- endmacro -%}
{%- macro default__current_timestamp_backcompat() -%}
current_timestamp::timestamp
{%- endmacro -%}

{%- macro current_timestamp_in_utc_backcompat() -%}
{{ adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')() }}
{%- endmacro -%}
{%- macro default__current_timestamp_in_utc_backcompat() -%}
{{ adapter.dispatch('current_timestamp_backcompat', 'dbt')() }}
{%- endmacro -%}

{#- ---------------------------------------------------------------- types -#}

{%- macro type_string() -%}
{{ adapter.dispatch('type_string', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_string() -%}TEXT{%- endmacro -%}

{%- macro type_timestamp() -%}
{{ adapter.dispatch('type_timestamp', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_timestamp() -%}timestamp{%- endmacro -%}

{%- macro type_float() -%}
{{ adapter.dispatch('type_float', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_float() -%}float{%- endmacro -%}

{%- macro type_numeric() -%}
{{ adapter.dispatch('type_numeric', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_numeric() -%}numeric(28,6){%- endmacro -%}

{%- macro type_bigint() -%}
{{ adapter.dispatch('type_bigint', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_bigint() -%}bigint{%- endmacro -%}

{%- macro type_int() -%}
{{ adapter.dispatch('type_int', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_int() -%}integer{%- endmacro -%}

{%- macro type_boolean() -%}
{{ adapter.dispatch('type_boolean', 'dbt')() }}
{%- endmacro -%}
{%- macro default__type_boolean() -%}boolean{%- endmacro -%}

{#- ---------------------------------------------------------------- casts -#}

{%- macro cast(field, type) -%}
{{ adapter.dispatch('cast', 'dbt')(field, type) }}
{%- endmacro -%}
{%- macro default__cast(field, type) -%}
cast({{ field }} as {{ type }})
{%- endmacro -%}

{%- macro safe_cast(field, type) -%}
{{ adapter.dispatch('safe_cast', 'dbt')(field, type) }}
{%- endmacro -%}
{#- dbt's default (DuckDB's too) is a plain cast, not `try_cast`. -#}
{%- macro default__safe_cast(field, type) -%}
cast({{ field }} as {{ type }})
{%- endmacro -%}
{%- macro cast_from_string_unsupported_for(type) -%}
{{ return(type.lower().startswith('struct') or type.lower() == 'geography') }}
{%- endmacro -%}

{%- macro cast_bool_to_text(field) -%}
{{ adapter.dispatch('cast_bool_to_text', 'dbt')(field) }}
{%- endmacro -%}
{%- macro default__cast_bool_to_text(field) -%}
cast({{ field }} as TEXT)
{%- endmacro -%}

{#- ---------------------------------------------------------- aggregates -#}

{%- macro any_value(expression) -%}
{{ adapter.dispatch('any_value', 'dbt')(expression) }}
{%- endmacro -%}
{%- macro default__any_value(expression) -%}
any_value({{ expression }})
{%- endmacro -%}

{%- macro bool_or(expression) -%}
{{ adapter.dispatch('bool_or', 'dbt')(expression) }}
{%- endmacro -%}
{%- macro default__bool_or(expression) -%}
bool_or({{ expression }})
{%- endmacro -%}

{%- macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
{{ adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num) }}
{%- endmacro -%}
{%- macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}
array_to_string(array_slice(array_agg({{ measure }})
{%- if order_by_clause %} within group ({{ order_by_clause }}){% endif -%}
, 0, {{ limit_num }}), {{ delimiter_text }})
{%- else -%}
listagg({{ measure }}, {{ delimiter_text }})
{%- if order_by_clause %} within group ({{ order_by_clause }}){% endif -%}
{%- endif -%}
{%- endmacro -%}

{#- ------------------------------------------------------------- strings -#}

{%- macro hash(field) -%}
{{ adapter.dispatch('hash', 'dbt')(field) }}
{%- endmacro -%}
{%- macro default__hash(field) -%}
md5(cast({{ field }} as TEXT))
{%- endmacro -%}

{%- macro concat(fields) -%}
{{ adapter.dispatch('concat', 'dbt')(fields) }}
{%- endmacro -%}
{#- dbt-bigquery has no concat of its own: `||` there too. -#}
{%- macro default__concat(fields) -%}
{{ fields | join(' || ') }}
{%- endmacro -%}

{%- macro split_part(string_text, delimiter_text, part_number) -%}
{{ adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number) }}
{%- endmacro -%}
{%- macro default__split_part(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro -%}

{%- macro position(substring_text, string_text) -%}
{{ adapter.dispatch('position', 'dbt')(substring_text, string_text) }}
{%- endmacro -%}
{%- macro default__position(substring_text, string_text) -%}
position({{ substring_text }} in {{ string_text }})
{%- endmacro -%}

{%- macro right(string_text, length_expression) -%}
{{ adapter.dispatch('right', 'dbt')(string_text, length_expression) }}
{%- endmacro -%}
{%- macro default__right(string_text, length_expression) -%}
right({{ string_text }}, {{ length_expression }})
{%- endmacro -%}

{%- macro length(expression) -%}
{{ adapter.dispatch('length', 'dbt')(expression) }}
{%- endmacro -%}
{%- macro default__length(expression) -%}
length({{ expression }})
{%- endmacro -%}

{%- macro replace(field, old_chars, new_chars) -%}
{{ adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars) }}
{%- endmacro -%}
{%- macro default__replace(field, old_chars, new_chars) -%}
replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro -%}

{#- Escapes a text's quotes for a literal: `they''re`; on BigQuery `they\'re`. -#}
{%- macro escape_single_quotes(expression) -%}
{{ adapter.dispatch('escape_single_quotes', 'dbt')(expression) }}
{%- endmacro -%}
{%- macro default__escape_single_quotes(expression) -%}
{{ expression | replace("'", "''") }}
{%- endmacro -%}

{#- A text as the target's SQL reads a string literal, escaped: BigQuery
    escapes a quote with a backslash, DuckDB doubles it. (dbt quotes without
    escaping; a value holding a quote would break its SQL.) -#}
{%- macro string_literal(value) -%}
{{ __string_literal(value) }}
{%- endmacro -%}

{#- -------------------------------------------------------------- arrays -#}

{#- All inputs must have one type; `data_type` types an empty array, and is
    by default the adapter's integer (`api.Column.translate_type('integer')`). -#}
{%- macro array_construct(inputs=[], data_type=none) -%}
{%- set data_type = data_type if data_type is not none else dbt.type_int() -%}
{{ adapter.dispatch('array_construct', 'dbt')(inputs, data_type) }}
{%- endmacro -%}
{%- macro default__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
array[ {{ inputs | join(' , ') }} ]
{%- else -%}
array[]::{{ data_type }}[]
{%- endif -%}
{%- endmacro -%}

{%- macro array_append(array, new_element) -%}
{{ adapter.dispatch('array_append', 'dbt')(array, new_element) }}
{%- endmacro -%}
{%- macro default__array_append(array, new_element) -%}
array_append({{ array }}, {{ new_element }})
{%- endmacro -%}

{%- macro array_concat(array_1, array_2) -%}
{{ adapter.dispatch('array_concat', 'dbt')(array_1, array_2) }}
{%- endmacro -%}
{%- macro default__array_concat(array_1, array_2) -%}
array_cat({{ array_1 }}, {{ array_2 }})
{%- endmacro -%}

{#- ------------------------------------------------------ set operations -#}

{%- macro except() -%}
{{ adapter.dispatch('except', 'dbt')() }}
{%- endmacro -%}
{%- macro default__except() -%}
except
{%- endmacro -%}

{%- macro intersect() -%}
{{ adapter.dispatch('intersect', 'dbt')() }}
{%- endmacro -%}
{%- macro default__intersect() -%}
intersect
{%- endmacro -%}

{#- `equals` is null-safe only under dbt's behavior flag
    `enable_truthy_nulls_equals_macro` (off by default); strata has no
    `adapter.behavior`, so unless it gains one the plain `=` is used. -#}
{%- macro equals(expr1, expr2) -%}
{{ adapter.dispatch('equals', 'dbt')(expr1, expr2) }}
{%- endmacro -%}
{%- macro default__equals(expr1, expr2) -%}
{%- if adapter.behavior is defined and adapter.behavior.enable_truthy_nulls_equals_macro.no_warn -%}
case when (({{ expr1 }} = {{ expr2 }}) or ({{ expr1 }} is null and {{ expr2 }} is null))
    then 0
    else 1
end = 0
{%- else -%}
({{ expr1 }} = {{ expr2 }})
{%- endif -%}
{%- endmacro -%}

{#- -------------------------------------------------- series and spines -#}

{#- The least n with upper_bound <= 2 ** n: the bits a number up to upper_bound needs. -#}
{%- macro get_powers_of_two(upper_bound) -%}
{{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}
{%- endmacro -%}
{%- macro default__get_powers_of_two(upper_bound) -%}
{%- if upper_bound <= 0 -%}
{{ exceptions.raise_compiler_error("upper bound must be positive") }}
{%- endif -%}
{%- for _ in range(1, 100) -%}
{%- if upper_bound <= 2 ** loop.index -%}{{ return(loop.index) }}{%- endif -%}
{%- endfor -%}
{%- endmacro -%}

{#- The rows 1..upper_bound, as `generated_number`. -#}
{%- macro generate_series(upper_bound) -%}
{{ adapter.dispatch('generate_series', 'dbt')(upper_bound) }}
{%- endmacro -%}
{%- macro default__generate_series(upper_bound) -%}
{%- set n = dbt.get_powers_of_two(upper_bound) -%}
with p as (
    select 0 as generated_number union all select 1
), unioned as (
    select
    {% for i in range(n) -%}
    p{{ i }}.generated_number * power(2, {{ i }}){% if not loop.last %} + {% endif %}
    {% endfor -%}
    + 1
    as generated_number
    from
    {% for i in range(n) -%}
    p as p{{ i }}{% if not loop.last %} cross join {% endif %}
    {% endfor %}
)
select *
from unioned
where generated_number <= {{ upper_bound }}
order by generated_number
{%- endmacro -%}

{#- How many `datepart`s from start_date to end_date: dbt runs a query for it
    while compiling, so this needs `statement` and `load_result`. -#}
{%- macro get_intervals_between(start_date, end_date, datepart) -%}
{{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}
{%- endmacro -%}
{%- macro default__get_intervals_between(start_date, end_date, datepart) -%}
{%- if statement is not defined or load_result is not defined -%}
{{ exceptions.raise_compiler_error("get_intervals_between (used by date_spine) queries the warehouse while compiling, which strata cannot do yet") }}
{%- endif -%}
{%- call statement('get_intervals_between', fetch_result=True) -%}
select {{ dbt.datediff(start_date, end_date, datepart) }}
{%- endcall -%}
{%- set value_list = load_result('get_intervals_between') -%}
{%- if value_list and value_list['data'] -%}
{{ return(value_list['data'][0][0]) }}
{%- else -%}
{{ return(1) }}
{%- endif -%}
{%- endmacro -%}

{#- One row a `datepart` from start_date up to end_date, as `date_<datepart>`:
    date_spine("day", "date '2026-01-01'", "date '2026-12-31'"). -#}
{%- macro date_spine(datepart, start_date, end_date) -%}
{{ adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date) }}
{%- endmacro -%}
{%- macro default__date_spine(datepart, start_date, end_date) -%}
with rawdata as (
    {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
),
all_periods as (
    select (
        {{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }}
    ) as date_{{ datepart }}
    from rawdata
),
filtered as (
    select *
    from all_periods
    where date_{{ datepart }} <= {{ end_date }}
)
select * from filtered
{%- endmacro -%}

{#- dbt's helpers that packages call: the relation if it exists, else none;
    whether a test stores its failures. -#}
{%- macro load_relation(relation) -%}
{{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) }}
{%- endmacro -%}
{%- macro load_cached_relation(relation) -%}
{{ return(load_relation(relation)) }}
{%- endmacro -%}
{%- macro should_store_failures() -%}
{{ return(config.get('store_failures') or flags.STORE_FAILURES) }}
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
