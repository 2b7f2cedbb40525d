with latest as (
    {{ latest_versions(source('raw_pw', 'pw_portfolios')) }}
),

renamed as (
    select
        source_id as portfolio_id,
        {{ clean_text("payload->>'name'") }} as portfolio_name,
        {{ clean_text("payload->>'abbreviation'") }} as abbreviation,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        {{ safe_timestamp("payload->>'createdDateTime'") }} as created_at,
        payload->'customFields' as custom_fields,
        {{ version_metadata() }}
    from latest
)

select * from renamed
