-- The PW entities map_customer matches (portfolios, buildings, lease tenants), one row each, with
-- the keys every matching method compares (docs/architecture.md §6, core/matching.py).
-- Normalising is a chain of regular expressions per value, so each key is computed only where it
-- can exist: addresses for buildings alone, and the tenants (most of the entities) bring the name
-- key their staging computed once per version. A table: the candidates read it once per matching
-- stage and map_customer once more, and the keys would otherwise be recomputed each time.
{{ config(materialized='table') }}

with portfolios as (
    select
        'portfolio' as pw_entity_type,
        portfolio_id as pw_entity_id,
        portfolio_id,
        portfolio_name as pw_name,
        {{ normalize_name('portfolio_name') }} as name_key,
        cast(null as text) as street_key,
        cast(null as text) as street_2_key,
        cast(null as text) as postal_key
    from {{ ref('stg_pw_portfolios') }}
),

buildings as (
    select 'building', building_id, portfolio_id, building_name, {{ normalize_name('building_name') }},
        nullif({{ normalize_street('street') }}, ''),
        nullif({{ normalize_street('street_2') }}, ''),
        nullif(left({{ normalize_text('postal_code') }}, 5), '')
    from {{ ref('stg_pw_buildings') }}
),

tenants as (
    select 'tenant', tenant_id, portfolio_id, display_name, name_key, null, null, null
    from {{ ref('dim_tenant') }}
),

entities as (
    select * from portfolios
    union all
    select * from buildings
    union all
    select * from tenants
)

select
    pw_entity_type,
    pw_entity_id,
    portfolio_id,
    pw_name,
    -- the exact method compares the name as typed, trimmed
    trim(pw_name) as trimmed_name,
    name_key,
    street_key,
    street_2_key,
    postal_key,
    -- what the fuzzy method hashes on: names one typo apart differ in length by at most one and
    -- carry the same digits
    length(name_key) as name_length,
    regexp_replace(name_key, '[^0-9]', '', 'g') as name_digits
from entities
