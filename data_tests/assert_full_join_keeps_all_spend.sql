-- Every unit of ad spend of the day must survive the full outer join.
with spend as (
    select coalesce(sum(cost), 0) as cost from {{ ref('mkt_spend') }}
    where spend_date = {{ ds_literal() }}
),
joined as (
    select coalesce(sum(cost), 0) as cost from {{ ref('utm_spend_full_joined') }}
    where report_date = {{ ds_literal() }}
)
select spend.cost as spend_cost, joined.cost as joined_cost
from spend cross join joined
where abs(spend.cost - joined.cost) > 0.01
