{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='unit_id',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['unit_id'], 'unique': true}, {'columns': ['_version_id']}],
) }}

-- Units, latest version per key, typed, deleted keys included (_is_deleted), under the
-- current-state view int_pw_units. Kept as a table maintained like stg_pw_work_orders_latest:
-- a run re-reads only the keys with a version landed since the last build and replaces their
-- rows, instead of every reader re-sorting all versions and re-parsing every payload
-- (the work-order routing rule, dim_unit, dim_building and fact_leases read them on every run).
{%- set raw_units = source('raw_pw', 'pw_units') %}
with latest as (
    {{ latest_versions(raw_units, keep_deleted=true,
                       keys=keys_landed_since(raw_units, this) if is_incremental() else none) }}
),

renamed as (
    select
        source_id as unit_id,
        {{ safe_bigint("payload->>'buildingID'") }} as building_id,
        {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
        {{ safe_bigint("payload->>'leaseID'") }} as lease_id,
        {{ clean_text("payload->>'name'") }} as unit_name,
        {{ clean_text("payload->>'abbreviation'") }} as abbreviation,
        {{ clean_text("payload->>'category'") }} as category,
        {{ clean_text("payload->>'status'") }} as occupancy_status,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        {{ clean_text("payload->'address'->>'address'") }} as street,
        {{ clean_text("payload->'address'->>'addressCont'") }} as street_2,
        {{ clean_text("payload->'address'->>'city'") }} as city,
        {{ clean_text("payload->'address'->>'stateRegion'") }} as state_region,
        {{ clean_text("payload->'address'->>'postalCode'") }} as postal_code,
        {{ version_metadata() }},
        _is_deleted
    from latest
)

select * from renamed
