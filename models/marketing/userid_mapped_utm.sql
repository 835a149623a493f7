-- First-touch attribution: the first UTM tags each user arrived with, within
-- the attribution window before the execution date: one snapshot per date.
{{ config(materialized='incremental', partition_by={'field': 'snapshot_date', 'data_type': 'date'}) }}
with touches as (
    select
        user_id,
        utm_source,
        utm_medium,
        utm_campaign,
        event_at,
        row_number() over (partition by user_id order by event_at, event_id) as touch_rank
    from {{ ref('userid_mapped_logs') }}
    where user_id is not null
      and utm_source <> '(none)'
      and event_date > {{ ds_literal(-1 * var('analytics:first_touch_window_days')) }}
      and event_date <= {{ ds_literal() }}
)

select
    {{ ds_literal() }} as snapshot_date,
    user_id,
    utm_source,
    utm_medium,
    utm_campaign,
    event_at as first_touch_at
from touches
where touch_rank = 1
