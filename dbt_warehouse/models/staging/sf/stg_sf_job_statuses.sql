with latest as (
    {{ latest_versions(source('raw_sf', 'sf_job_statuses')) }}
)

select
    source_id as job_status_id,
    {{ clean_text("payload->>'code'") }} as status_code,
    {{ clean_text("payload->>'name'") }} as status_name,
    {{ normalize_text("payload->>'name'") }} as status_key,
    {{ clean_text("payload->>'category'") }} as status_category,
    coalesce({{ safe_boolean("payload->>'is_custom'") }}, false) as is_custom,
    {{ version_metadata() }}
from latest
