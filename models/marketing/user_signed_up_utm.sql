-- Users who signed up on the execution date, with their first-touch UTM tags.
{{ config(materialized='incremental', partition_by={'field': 'signed_up_date', 'data_type': 'date'}) }}
select
    {{ to_date('users.signed_up_at') }} as signed_up_date,
    users.user_id,
    users.signed_up_at,
    users.country,
    coalesce(utm.utm_source, '(none)') as utm_source,
    coalesce(utm.utm_medium, '(none)') as utm_medium,
    coalesce(utm.utm_campaign, '(none)') as utm_campaign
from {{ source('dw', 'users') }} as users
left join {{ ref('userid_mapped_utm') }} as utm
    on users.user_id = utm.user_id
    and utm.snapshot_date = {{ ds_literal() }}
where {{ to_date('users.signed_up_at') }} = {{ ds_literal() }}
