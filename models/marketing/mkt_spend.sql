-- The day's ad spend per platform and campaign, with the UTM tags the ads carry.
{{ config(materialized='incremental', partition_by={'field': 'spend_date', 'data_type': 'date'}) }}
select
    spend_date,
    {{ normalize_utm('utm_source') }} as utm_source,
    {{ normalize_utm('utm_medium') }} as utm_medium,
    {{ normalize_utm('utm_campaign') }} as utm_campaign,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(cost) as cost
from {{ source('mkt', 'ad_spend') }}
where spend_date = {{ ds_literal() }}
group by 1, 2, 3, 4
