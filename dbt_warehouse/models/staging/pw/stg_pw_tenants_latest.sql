{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='tenant_id',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['tenant_id'], 'unique': true}, {'columns': ['_version_id']}],
) }}

-- Tenants (PW contacts), latest version per key, typed, deleted keys included (_is_deleted), under the
-- current-state view int_pw_tenants. Kept as a table maintained like stg_pw_work_orders_latest:
-- a run re-reads only the keys with a version landed since the last build and replaces their
-- rows, instead of every reader re-sorting all versions and re-parsing every payload
-- (dim_tenant and, through it, map_customer read them on every run).
{%- set raw_tenants = source('raw_pw', 'pw_tenants') %}
{#- Re-read besides the keys landed since: those whose name_key an earlier normalize_name gave
    differently (only non-ASCII names can differ; octet and character lengths tell them apart
    cheaply), so a fix of the twin reaches every tenant, not only the ones that change next. -#}
{%- set stale_name_keys -%}
    select tenant_id from {{ this }}
    where octet_length(display_name) <> char_length(display_name)
        and name_key is distinct from {{ normalize_name('display_name') }}
{%- endset %}
with latest as (
    {#- a table built before name_key existed is rebuilt whole once, so no row lacks it -#}
    {{ latest_versions(raw_tenants, keep_deleted=true,
                       keys=keys_landed_since(raw_tenants, this) ~ ' union ' ~ stale_name_keys
                            if is_incremental() and relation_has_column(this, 'name_key') else none) }}
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
        {{ version_metadata() }},
        _is_deleted
    from latest
)

select
    renamed.*,
    -- core.matching.normalize_name of the customer name, which map_customer matches on: a chain
    -- of regular expressions, so computed once per version here, not for every tenant each run
    {{ normalize_name('renamed.display_name') }} as name_key
from renamed
