with latest as (
    {{ latest_versions(source('raw_pw', 'pw_vendors')) }}
),

renamed as (
    select
        source_id as vendor_id,
        {{ clean_text("payload->>'name'") }} as vendor_name,
        {{ clean_text("payload->>'companyName'") }} as company_name,
        {{ clean_text("payload->>'type'") }} as vendor_type,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        lower({{ clean_text("payload->>'email'") }}) as email,
        {{ clean_text("payload->>'phone'") }} as phone,
        {{ clean_text("payload->>'address'") }} as street,
        {{ clean_text("payload->>'city'") }} as city,
        {{ clean_text("payload->>'state'") }} as state_region,
        {{ clean_text("payload->>'zip'") }} as postal_code,
        {{ version_metadata() }}
    from latest
)

select * from renamed
