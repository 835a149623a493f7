-- A segment per user for CRM campaigns, from recency and frequency of orders.
{{ config(materialized='incremental', partition_by={'field': 'snapshot_date', 'data_type': 'date'}) }}
select
    snapshot_date,
    user_id,
    orders,
    lifetime_value,
    last_ordered_at,
    case
        when orders = 0 then 'prospect'
        when orders = 1 and {{ to_date('last_ordered_at') }} >= {{ ds_literal(-1 * var('dormant_after_days')) }} then 'new'
        when {{ to_date('last_ordered_at') }} >= {{ ds_literal(-1 * var('dormant_after_days')) }} then 'active'
        when {{ to_date('last_ordered_at') }} >= {{ ds_literal(-3 * var('dormant_after_days')) }} then 'dormant'
        else 'churned'
    end as segment
from {{ ref('users_history') }}
where snapshot_date = {{ ds_literal() }}
