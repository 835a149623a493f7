-- Cost, funnel, sign-ups and orders side by side per date and UTM tags: a full
-- outer join, so spend without traffic and traffic without spend both show.
{{ config(materialized='incremental', partition_by={'field': 'report_date', 'data_type': 'date'}) }}
{%- set keys = ['utm_source', 'utm_medium', 'utm_campaign'] %}

with spend as (
    select spend_date as report_date, utm_source, utm_medium, utm_campaign, impressions, clicks, cost
    from {{ ref('mkt_spend') }}
    where spend_date = {{ ds_literal() }}
),

funnel as (
    select event_date as report_date, utm_source, utm_medium, utm_campaign, sessions, visitors, page_views
    from {{ ref('daily_utm_funnel') }}
    where event_date = {{ ds_literal() }}
),

sign_ups as (
    select signed_up_date as report_date, utm_source, utm_medium, utm_campaign, count(*) as sign_ups
    from {{ ref('user_signed_up_utm') }}
    where signed_up_date = {{ ds_literal() }}
    group by 1, 2, 3, 4
),

orders as (
    select order_date as report_date, utm_source, utm_medium, utm_campaign,
        count(*) as orders,
        sum(case when status in ('paid', 'shipped', 'delivered') then amount else 0 end) as revenue
    from {{ ref('utm_orders_status_final') }}
    where snapshot_date = {{ ds_literal() }}
      and order_date = {{ ds_literal() }}
    group by 1, 2, 3, 4
)

select
    coalesce(spend.report_date, funnel.report_date, sign_ups.report_date, orders.report_date) as report_date,
    {%- for key in keys %}
    coalesce(spend.{{ key }}, funnel.{{ key }}, sign_ups.{{ key }}, orders.{{ key }}) as {{ key }},
    {%- endfor %}
    coalesce(spend.impressions, 0) as impressions,
    coalesce(spend.clicks, 0) as clicks,
    coalesce(spend.cost, 0) as cost,
    coalesce(funnel.sessions, 0) as sessions,
    coalesce(funnel.visitors, 0) as visitors,
    coalesce(funnel.page_views, 0) as page_views,
    coalesce(sign_ups.sign_ups, 0) as sign_ups,
    coalesce(orders.orders, 0) as orders,
    coalesce(orders.revenue, 0) as revenue
from spend
full outer join funnel
    on spend.report_date = funnel.report_date
    {%- for key in keys %} and spend.{{ key }} = funnel.{{ key }}{% endfor %}
full outer join sign_ups
    on coalesce(spend.report_date, funnel.report_date) = sign_ups.report_date
    {%- for key in keys %} and coalesce(spend.{{ key }}, funnel.{{ key }}) = sign_ups.{{ key }}{% endfor %}
full outer join orders
    on coalesce(spend.report_date, funnel.report_date, sign_ups.report_date) = orders.report_date
    {%- for key in keys %} and coalesce(spend.{{ key }}, funnel.{{ key }}, sign_ups.{{ key }}) = orders.{{ key }}{% endfor %}
