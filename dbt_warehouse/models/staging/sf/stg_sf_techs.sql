with latest as (
    {{ latest_versions(source('raw_sf', 'sf_techs')) }}
)

select
    source_id as tech_id,
    {{ clean_text("payload->>'first_name'") }} as first_name,
    {{ clean_text("payload->>'last_name'") }} as last_name,
    lower({{ clean_text("payload->>'email'") }}) as email,
    {{ clean_text("payload->>'phone_1'") }} as phone,
    {{ clean_text("payload->>'department'") }} as department,
    {{ clean_text("payload->>'title'") }} as title,
    coalesce({{ safe_boolean("payload->>'is_field_worker'") }}, false) as is_field_worker,
    {{ version_metadata() }}
from latest
