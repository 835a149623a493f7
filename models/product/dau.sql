-- Daily active users: how many distinct users were seen on the execution date.
{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}
select
    {{ ds_literal() }} as event_date,
    count(distinct user_id) as daily_active_users
from {{ ref('daily_active_users_list') }}
where event_date = {{ ds_literal() }}
