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
        when orders = 1 and last_ordered_at >= {{ dateadd('day', -1 * var('dormant_after_days'), ds_literal()) }} then 'new'
        when last_ordered_at >= {{ dateadd('day', -1 * var('dormant_after_days'), ds_literal()) }} then 'active'
        when last_ordered_at >= {{ dateadd('day', -3 * var('dormant_after_days'), ds_literal()) }} then 'dormant'
        else 'churned'
    end as segment
from {{ ref('users_history') }}
where snapshot_date = {{ ds_literal() }}
