-- One row per visitor and day (a session), attributed to the UTM tags the
-- session arrived with, else to the user's first touch.
{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}
with sessions as (
    select
        event_date,
        anonymous_id,
        max(user_id) as user_id,
        min(event_at) as session_start_at,
        max(event_at) as session_end_at,
        count(*) as events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as page_views,
        max(case when utm_source <> '(none)' then utm_source end) as utm_source,
        max(case when utm_source <> '(none)' then utm_medium end) as utm_medium,
        max(case when utm_source <> '(none)' then utm_campaign end) as utm_campaign
    from {{ ref('userid_mapped_logs') }}
    where event_date = {{ ds_literal() }}
    group by event_date, anonymous_id
)

select
    sessions.event_date,
    {{ concat(["sessions.anonymous_id", "'-'", "cast(sessions.event_date as " ~ type_string() ~ ")"]) }} as session_id,
    sessions.anonymous_id,
    sessions.user_id,
    sessions.session_start_at,
    sessions.session_end_at,
    sessions.events,
    sessions.page_views,
    coalesce(sessions.utm_source, first_touch.utm_source, '(none)') as utm_source,
    coalesce(sessions.utm_medium, first_touch.utm_medium, '(none)') as utm_medium,
    coalesce(sessions.utm_campaign, first_touch.utm_campaign, '(none)') as utm_campaign
from sessions
left join {{ ref('userid_mapped_utm') }} as first_touch
    on sessions.user_id = first_touch.user_id
    and first_touch.snapshot_date = {{ ds_literal() }}
