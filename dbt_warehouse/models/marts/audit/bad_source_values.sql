-- Every date or timestamp in the sources' current records that is not a real date (macro
-- is_calendar_text): the record, the field and the value as received. Staging reads these as
-- NULL so the rest of the record - and every other record - flows; this view is where they are
-- reported (its no_rows test warns with the count). Only the keys with a bad value in some
-- version are re-read as latest versions, so its cost is one pattern scan of each raw table.
-- It reads raw through source(), not staging, because it reports the text as received: the
-- current-state staging models keep only the typed values, where that text is already NULL.
{%- set checks = [
    ('pw', 'work_orders', source('raw_pw', 'pw_work_orders'),
     ['startDate', 'scheduledEndDate', 'completedDate', 'createdDateTime']),
    ('pw', 'leases', source('raw_pw', 'pw_leases'), ['startDate', 'endDate', 'moveInDate', 'moveOutDate']),
    ('pw', 'portfolios', source('raw_pw', 'pw_portfolios'), ['createdDateTime']),
    ('pw', 'buildings', source('raw_pw', 'pw_buildings'), ['createdDateTime']),
    ('sf', 'jobs', source('raw_sf', 'sf_jobs'), ['start_date', 'end_date', 'created_at', 'closed_at']),
    ('sf', 'customers', source('raw_sf', 'sf_customers'), ['created_at']),
] %}

{% for system, entity, table, fields in checks %}
{%- set ns = namespace(bad=[]) -%}
{%- for field in fields -%}
    {%- set value = "payload->>'" ~ field ~ "'" -%}
    {%- set ns.bad = ns.bad + ["(" ~ clean_text(value) ~ " is not null and not coalesce("
                               ~ is_calendar_text(value) ~ ", false))"] -%}
{%- endfor -%}
{%- if not loop.first %}
union all
{% endif -%}
select
    '{{ system }}' as source_system,
    '{{ entity }}' as entity,
    latest.source_id as record_id,
    checked.field,
    checked.raw_value,
    latest._version_id,
    latest._loaded_at
from (
    {{ latest_versions(table, keys="select source_id from " ~ table ~ " where " ~ ns.bad | join(' or ')) }}
) as latest
cross join lateral (values
    {%- for field in fields %}
    ('{{ field }}', latest.payload->>'{{ field }}', {{ ns.bad[loop.index0] }}){{ "," if not loop.last }}
    {%- endfor %}
) as checked (field, raw_value, is_bad)
where checked.is_bad
{% endfor %}
