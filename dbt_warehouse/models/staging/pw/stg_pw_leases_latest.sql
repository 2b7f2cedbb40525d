{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='lease_id',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['lease_id'], 'unique': true}, {'columns': ['_version_id']}],
) }}

-- Leases, latest version per key, typed, deleted keys included (_is_deleted), under the
-- current-state view int_pw_leases. Kept as a table maintained like stg_pw_work_orders_latest:
-- a run re-reads only the keys with a version landed since the last build and replaces their
-- rows, instead of every reader re-sorting all versions and re-parsing every payload
-- (fact_leases, dim_tenant and the lease-tenant bridge read them on every run).
{%- set raw_leases = source('raw_pw', 'pw_leases') %}
with latest as (
    {#- a table built before tenant_ids existed is rebuilt whole once, so no row lacks it -#}
    {{ latest_versions(raw_leases, keep_deleted=true,
                       keys=keys_landed_since(raw_leases, this)
                            if is_incremental() and relation_has_column(this, 'tenant_ids') else none) }}
),

renamed as (
    select
        source_id as lease_id,
        {{ safe_bigint("payload->>'unitID'") }} as unit_id,
        {{ safe_bigint("payload->>'buildingID'") }} as building_id,
        {{ safe_bigint("payload->>'portfolioID'") }} as portfolio_id,
        {{ clean_text("payload->>'leaseName'") }} as lease_name,
        {{ clean_text("payload->>'status'") }} as lease_status,
        {{ safe_boolean("payload->>'active'") }} as is_active,
        {{ safe_date("payload->>'startDate'") }} as start_date,
        {{ safe_date("payload->>'endDate'") }} as end_date,
        {{ safe_date("payload->>'moveInDate'") }} as move_in_date,
        {{ safe_date("payload->>'moveOutDate'") }} as move_out_date,
        {{ safe_numeric("payload->>'baseRent'") }} as base_rent,
        -- fixtures/SaveLease give primaryContactID; REST gives contacts[] with primary=true
        coalesce(
            {{ safe_bigint("payload->>'primaryContactID'") }},
            (
                select {{ safe_bigint("c->>'id'") }}
                from jsonb_array_elements(
                    case when jsonb_typeof(payload->'contacts') = 'array' then payload->'contacts' else '[]'::jsonb end
                ) as c
                where {{ safe_boolean("c->>'primary'") }}
                limit 1
            )
        ) as primary_tenant_id,
        -- every tenant the lease names (fixtures/SaveLease: tenantIDs; REST: contacts[]), parsed
        -- once per version here rather than by every reader of the lease-tenant bridge
        -- (jsonb, not bigint[]: dbt's on_schema_change cannot add an array column to an old table)
        (
            select coalesce(jsonb_agg(distinct named.tenant_id order by named.tenant_id), '[]'::jsonb)
            from (
                select {{ safe_bigint("t.value") }} as tenant_id
                from jsonb_array_elements_text(
                    case when jsonb_typeof(payload->'tenantIDs') = 'array' then payload->'tenantIDs' else '[]'::jsonb end
                ) as t(value)
                union all
                select {{ safe_bigint("c->>'id'") }}
                from jsonb_array_elements(
                    case when jsonb_typeof(payload->'contacts') = 'array' then payload->'contacts' else '[]'::jsonb end
                ) as c
            ) as named
            where named.tenant_id is not null
        ) as tenant_ids,
        payload,
        {{ version_metadata() }},
        _is_deleted
    from latest
)

select * from renamed
