-- Every user seen on the execution date.
{{ config(materialized='incremental', partition_by={'field': 'event_date', 'data_type': 'date'}) }}
select distinct
    event_date,
    user_id
from {{ ref('userid_mapped_logs') }}
where event_date = {{ ds_literal() }}
  and user_id is not null
