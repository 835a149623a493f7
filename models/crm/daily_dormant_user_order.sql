-- Orders on the execution date from customers who had not ordered for
-- `dormant_after_days` days: win-backs.
{{ config(materialized='incremental', partition_by={'field': 'order_date', 'data_type': 'date'}) }}
with orders as (
    select
        order_id,
        user_id,
        ordered_at,
        {{ to_date('ordered_at') }} as order_date,
        lag(ordered_at) over (partition by user_id order by ordered_at, order_id) as previous_ordered_at
    from {{ source('dw', 'orders') }}
    where {{ to_date('ordered_at') }} <= {{ ds_literal() }}
)

select
    order_date,
    order_id,
    user_id,
    ordered_at,
    previous_ordered_at,
    {{ datediff('previous_ordered_at', 'ordered_at', 'day') }} as days_since_previous_order
from orders
where order_date = {{ ds_literal() }}
  and previous_ordered_at is not null
  and {{ to_date('previous_ordered_at') }} < {{ ds_literal(-1 * var('dormant_after_days')) }}
