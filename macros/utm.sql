{#- UTM tags arrive in mixed case and with blanks; every model compares them normalised. -#}
{% macro normalize_utm(column) -%}
coalesce(nullif(lower(trim({{ column }})), ''), '(none)')
{%- endmacro %}

{#- The date a timestamp falls on, in both dialects. -#}
{% macro to_date(column) -%}
cast({{ column }} as date)
{%- endmacro %}

{#- The execution date as a SQL date literal. -#}
{% macro ds_literal(offset_days=0) -%}
date '{{ macros.ds_add(ds, offset_days) }}'
{%- endmacro %}
