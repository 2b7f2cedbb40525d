with latest as (
    {{ latest_versions(source('raw_pw', 'pw_tenants')) }}
),

renamed as (
    select
        source_id as tenant_id,
        {{ clean_text("payload->>'type'") }} as contact_type,
        {{ clean_text("payload->>'firstName'") }} as first_name,
        {{ clean_text("payload->>'lastName'") }} as last_name,
        {{ clean_text("payload->>'company'") }} as company,
        -- the SF customer name a tenant gets (core.payloads._customer_name): company, else the person
        coalesce(
            {{ clean_text("payload->>'company'") }},
            {{ clean_text("concat_ws(' ', " ~ clean_text("payload->>'firstName'") ~ ", " ~ clean_text("payload->>'lastName'") ~ ")") }}
        ) as display_name,
        lower({{ clean_text("payload->>'email'") }}) as email,
        {{ clean_text("payload->>'mobilePhone'") }} as mobile_phone,
        {{ clean_text("payload->>'homePhone'") }} as home_phone,
        {{ clean_text("payload->>'workPhone'") }} as work_phone,
        {{ clean_text("payload->'address'->>'address'") }} as street,
        {{ clean_text("payload->'address'->>'city'") }} as city,
        {{ clean_text("payload->'address'->>'postalCode'") }} as postal_code,
        {{ version_metadata() }}
    from latest
)

select * from renamed
