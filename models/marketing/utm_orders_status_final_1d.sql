-- Orders placed on the execution date only, by status and UTM tags.
{{ config(materialized='incremental', partition_by={'field': 'order_date', 'data_type': 'date'}) }}
select
    {{ to_date('orders.ordered_at') }} as order_date,
    orders.status,
    coalesce(utm.utm_source, '(none)') as utm_source,
    coalesce(utm.utm_medium, '(none)') as utm_medium,
    coalesce(utm.utm_campaign, '(none)') as utm_campaign,
    count(*) as orders,
    sum(orders.amount) as revenue
from {{ source('dw', 'orders') }} as orders
left join {{ ref('userid_mapped_utm') }} as utm
    on orders.user_id = utm.user_id
    and utm.snapshot_date = {{ ds_literal() }}
where {{ to_date('orders.ordered_at') }} = {{ ds_literal() }}
group by 1, 2, 3, 4, 5
