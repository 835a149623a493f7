-- Every order placed up to the execution date, in its latest status, with
-- the first-touch UTM tags of the user who placed it: one snapshot per date.
{{ config(materialized='incremental', partition_by={'field': 'snapshot_date', 'data_type': 'date'}) }}
select
    {{ ds_literal() }} as snapshot_date,
    {{ to_date('orders.ordered_at') }} as order_date,
    orders.order_id,
    orders.user_id,
    orders.ordered_at,
    orders.status,
    orders.amount,
    coalesce(utm.utm_source, '(none)') as utm_source,
    coalesce(utm.utm_medium, '(none)') as utm_medium,
    coalesce(utm.utm_campaign, '(none)') as utm_campaign
from {{ source('dw', 'orders') }} as orders
left join {{ ref('userid_mapped_utm') }} as utm
    on orders.user_id = utm.user_id
    and utm.snapshot_date = {{ ds_literal() }}
where {{ to_date('orders.ordered_at') }} <= {{ ds_literal() }}
