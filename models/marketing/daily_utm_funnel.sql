-- The day's funnel per UTM: sessions → visitors → page views → sign-ups → orders.
{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}
with sessions as (
    select
        event_date,
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as sessions,
        count(distinct anonymous_id) as visitors,
        sum(page_views) as page_views
    from {{ ref('userid_mapped_session_logs') }}
    where event_date = {{ ds_literal() }}
    group by event_date, utm_source, utm_medium, utm_campaign
),

conversions as (
    select
        logs.event_date,
        logs.utm_source,
        logs.utm_medium,
        logs.utm_campaign,
        count(distinct case when logs.event_name = 'sign_up' then logs.user_id end) as sign_ups,
        count(distinct case when logs.event_name = 'order' then logs.event_id end) as order_events
    from {{ ref('userid_mapped_logs') }} as logs
    where logs.event_date = {{ ds_literal() }}
    group by logs.event_date, logs.utm_source, logs.utm_medium, logs.utm_campaign
),

new_users as (
    select count(*) as users_signed_up
    from {{ source('dw', 'users') }}
    where {{ to_date('signed_up_at') }} = {{ ds_literal() }}
)

select
    sessions.event_date,
    sessions.utm_source,
    sessions.utm_medium,
    sessions.utm_campaign,
    sessions.sessions,
    sessions.visitors,
    sessions.page_views,
    coalesce(conversions.sign_ups, 0) as sign_ups,
    coalesce(conversions.order_events, 0) as order_events,
    new_users.users_signed_up as all_sign_ups_of_day
from sessions
left join conversions
    on sessions.event_date = conversions.event_date
    and sessions.utm_source = conversions.utm_source
    and sessions.utm_medium = conversions.utm_medium
    and sessions.utm_campaign = conversions.utm_campaign
cross join new_users
