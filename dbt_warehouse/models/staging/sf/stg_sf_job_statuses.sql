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
    coalesce(source_modified_at, _loaded_at) as modified_at,
    _version_id,
    _loaded_at
from latest
