-- The day's event logs with `user_id` filled in, also for the events an
-- anonymous visitor made before logging in.
{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}
select
    events.event_id,
    events.event_at,
    {{ to_date('events.event_at') }} as event_date,
    events.anonymous_id,
    coalesce(events.user_id, mapped.user_id) as user_id,
    events.event_name,
    events.page_path,
    {{ normalize_utm('events.utm_source') }} as utm_source,
    {{ normalize_utm('events.utm_medium') }} as utm_medium,
    {{ normalize_utm('events.utm_campaign') }} as utm_campaign
from {{ source('logs', 'events') }} as events
left join {{ ref('userid_mapped') }} as mapped
    on events.anonymous_id = mapped.anonymous_id
    and mapped.snapshot_date = {{ ds_literal() }}
where events.event_date = {{ ds_literal() }}
