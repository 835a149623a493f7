-- Users whose first visit ever is the execution date.
{{ config(materialized='incremental', partition_by={'field': 'first_visit_date', 'data_type': 'date'}) }}
select
    user_id,
    min(event_date) as first_visit_date,
    min(event_at) as first_visit_at
from {{ ref('userid_mapped_logs') }}
where user_id is not null
  and event_date <= {{ ds_literal() }}
group by user_id
having min(event_date) = {{ ds_literal() }}
