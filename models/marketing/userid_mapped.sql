-- Which user each anonymous id belongs to: the first user it logged in as,
-- from every logged-in event up to the execution date: one snapshot per date.
{{ config(materialized='incremental', partition_by={'field': 'snapshot_date', 'data_type': 'date'}) }}
with logged_in as (
    select
        anonymous_id,
        user_id,
        event_at,
        row_number() over (partition by anonymous_id order by event_at, user_id) as login_rank
    from {{ source('logs', 'events') }}
    where user_id is not null
      and anonymous_id is not null
      and event_date <= {{ ds_literal() }}
)

select
    {{ ds_literal() }} as snapshot_date,
    anonymous_id,
    user_id,
    event_at as first_logged_in_at
from logged_in
where login_rank = 1
