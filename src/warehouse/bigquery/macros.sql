{#- strata's built-in macros as dbt-bigquery renders them where dbt's default differs:
    the `bigquery__` variants that `adapter.dispatch` picks on bigquery targets, loaded
    after `strata/builtins.sql` for those targets only. -#}

{%- macro bigquery__date_trunc(datepart, date) -%}
timestamp_trunc(cast({{ date }} as timestamp), {{ datepart }})
{%- endmacro -%}
{%- macro bigquery__dateadd(datepart, interval, from_date_or_timestamp) -%}
datetime_add(cast({{ from_date_or_timestamp }} as datetime), interval {{ interval }} {{ datepart }})
{%- endmacro -%}
{%- macro bigquery__datediff(first_date, second_date, datepart) -%}
datetime_diff(cast({{ second_date }} as datetime), cast({{ first_date }} as datetime), {{ datepart }})
{%- endmacro -%}
{%- macro bigquery__date(year, month, day) -%}
date({{ year }}, {{ month }}, {{ day }})
{%- endmacro -%}
{%- macro bigquery__current_timestamp() -%}
current_timestamp()
{%- endmacro -%}
{%- macro bigquery__current_timestamp_backcompat() -%}
current_timestamp
{%- endmacro -%}
{%- macro bigquery__type_string() -%}string{%- endmacro -%}
{%- macro bigquery__type_float() -%}FLOAT64{%- endmacro -%}
{%- macro bigquery__type_numeric() -%}numeric{%- endmacro -%}
{%- macro bigquery__type_int() -%}INT64{%- endmacro -%}
{#- BigQuery cannot cast to an array (each element is cast), and cannot cast a
    string to a struct or a geography (the value's quotes are stripped). -#}
{%- macro bigquery__safe_cast(field, type) -%}
{%- if type.lower().startswith('array') and field is iterable and field is not string and field is not mapping and field | length > 0 -%}
{%- set nested_type = type.lower()[6:-1] -%}
{%- if cast_from_string_unsupported_for(nested_type) -%}
(select array_agg(safe_cast(i as {{ nested_type }})) from unnest([
{%- for nested_field in field -%}
{{ nested_field.strip('"').strip("'") }}{{ ', ' if not loop.last }}
{%- endfor -%}
]) i)
{%- else -%}
(select array_agg(safe_cast(i as {{ nested_type }})) from unnest({{ field }}) i)
{%- endif -%}
{%- elif type.lower() == 'json' and field is mapping -%}
safe_cast(json {{ dbt.string_literal(tojson(field)) }} as json)
{%- elif cast_from_string_unsupported_for(type) and field is string -%}
safe_cast({{ field.strip('"').strip("'") }} as {{ type }})
{%- else -%}
safe_cast({{ field }} as {{ type }})
{%- endif -%}
{%- endmacro -%}
{%- macro bigquery__cast_bool_to_text(field) -%}
cast({{ field }} as string)
{%- endmacro -%}
{%- macro bigquery__bool_or(expression) -%}
logical_or({{ expression }})
{%- endmacro -%}
{%- macro bigquery__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
string_agg({{ measure }}, {{ delimiter_text }}
{%- if order_by_clause %} {{ order_by_clause }}{% endif -%}
{%- if limit_num %} limit {{ limit_num }}{% endif -%}
)
{%- endmacro -%}
{%- macro bigquery__hash(field) -%}
to_hex(md5(cast({{ field }} as string)))
{%- endmacro -%}
{#- BigQuery: a 0-based offset; a negative part counts from the end. -#}
{%- macro bigquery__split_part(string_text, delimiter_text, part_number) -%}
{%- if part_number >= 0 -%}
split({{ string_text }}, {{ delimiter_text }})[safe_offset({{ part_number - 1 }})]
{%- else -%}
split({{ string_text }}, {{ delimiter_text }})[safe_offset(length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, '')) + 1 + {{ part_number }})]
{%- endif -%}
{%- endmacro -%}
{%- macro bigquery__position(substring_text, string_text) -%}
strpos({{ string_text }}, {{ substring_text }})
{%- endmacro -%}
{%- macro bigquery__right(string_text, length_expression) -%}
case when {{ length_expression }} = 0
    then ''
else
    substr({{ string_text }}, -1 * ({{ length_expression }}))
end
{%- endmacro -%}
{%- macro bigquery__escape_single_quotes(expression) -%}
{{ expression | replace("'", "\\'") }}
{%- endmacro -%}
{%- macro bigquery__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
[ {{ inputs | join(' , ') }} ]
{%- else -%}
ARRAY<{{ data_type }}>[]
{%- endif -%}
{%- endmacro -%}
{%- macro bigquery__array_append(array, new_element) -%}
{{ array_concat(array, array_construct([new_element])) }}
{%- endmacro -%}
{%- macro bigquery__array_concat(array_1, array_2) -%}
array_concat({{ array_1 }}, {{ array_2 }})
{%- endmacro -%}
{%- macro bigquery__except() -%}
except distinct
{%- endmacro -%}
{%- macro bigquery__intersect() -%}
intersect distinct
{%- endmacro -%}
{%- macro bigquery__equals(expr1, expr2) -%}
{%- if adapter.behavior is defined and adapter.behavior.enable_truthy_nulls_equals_macro.no_warn -%}
({{ expr1 }} IS NOT DISTINCT FROM {{ expr2 }})
{%- else -%}
({{ expr1 }} = {{ expr2 }})
{%- endif -%}
{%- endmacro -%}
