{{ config(materialized='incremental', unique_key='date_key') }}

-- Calendar dimension shared by PW and SF facts; date_key = yyyymmdd. A fixed calendar, so it is
-- built once (and on --full-refresh): an incremental run adds nothing instead of rebuilding it.
with days as (
    select generate_series('2015-01-01'::date, '2035-12-31'::date, interval '1 day')::date as calendar_date
)

select
    to_char(calendar_date, 'YYYYMMDD')::int as date_key,
    calendar_date,
    extract(year from calendar_date)::int as year,
    extract(quarter from calendar_date)::int as quarter,
    extract(month from calendar_date)::int as month,
    trim(to_char(calendar_date, 'Month')) as month_name,
    extract(day from calendar_date)::int as day_of_month,
    extract(isodow from calendar_date)::int as iso_day_of_week,
    trim(to_char(calendar_date, 'Day')) as day_name,
    extract(isodow from calendar_date) in (6, 7) as is_weekend,
    date_trunc('week', calendar_date)::date as week_start
from days
{%- if is_incremental() %}
where false
{%- endif %}
