-- Each user's order history as of the execution date: one snapshot per date.
{{ config(materialized='incremental', partition_by={'field': 'snapshot_date', 'data_type': 'date'}) }}
select
    {{ ds_literal() }} as snapshot_date,
    users.user_id,
    users.signed_up_at,
    users.country,
    count(orders.order_id) as orders,
    coalesce(sum(case when orders.status <> 'cancelled' then orders.amount end), 0) as lifetime_value,
    min(orders.ordered_at) as first_ordered_at,
    max(orders.ordered_at) as last_ordered_at
from {{ source('dw', 'users') }} as users
left join {{ source('dw', 'orders') }} as orders
    on users.user_id = orders.user_id
    and {{ to_date('orders.ordered_at') }} <= {{ ds_literal() }}
where {{ to_date('users.signed_up_at') }} <= {{ ds_literal() }}
group by 1, 2, 3, 4
