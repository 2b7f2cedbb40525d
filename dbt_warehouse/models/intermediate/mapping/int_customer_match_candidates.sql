-- Every (PW entity, SF customer) pair some matching method finds, with the method, its score and
-- the scope it was found in; map_customer ranks them and settles ties (docs/architecture.md §6,
-- core/matching.py). One row per pair and scope: same-named duplicates, several customers at one
-- address and fuzzy hits on several names all stay here, for the ranking to judge.
--   stamped_id  1.00  the SF customer carries the PW id in its custom field (we created it)
--   exact       1.00  identical name (trimmed)
--   normalized  0.95  equal core.matching.normalize_name (case, punctuation, "&", "the", LLC/Inc...)
--   address     0.85  an SF customer with a location on the same normalised street (postal code /
--                     line 2 must agree when both sides have one); buildings only
--   fuzzy       0.8 x similarity  portfolios and tenants: normalised names one typo apart (one
--                     letter changed, added or dropped, or two neighbours swapped), the same
--                     digits, similarity = 1 - 1 / longer length >= customer_fuzzy_threshold
--                     (0.88: names of 9+ characters). core.matching.fuzzy_similarity.
-- Only customers nobody stamped are found by name or address: a stamped customer belongs to its
-- entity. Where an entity may look (scope_key, the parent customer's name key, '' for top level):
-- a portfolio, top-level customers; a tenant, children of its portfolio's SF customer (our payloads
-- make tenants children of it); a building, top-level customers or children of its portfolio's
-- customer. Which customer that is, map_customer decides, so buildings and tenants are searched
-- under every customer their portfolio has a candidate in, and map_customer keeps the pairs under
-- the one it gives the portfolio. Stamps need no scope (scope_key NULL).
{#- The planner estimates the filtered entity CTEs at a handful of rows and then joins the fuzzy
    candidates by nested loop, rescanning ~30,000 entities from disk per SF customer (80 M row
    comparisons: 25 to 50 s at the large scale, against 3 s with hash joins); every join here has
    an equality to hash on, and the lateral scans stay nested loops regardless. SET LOCAL lasts
    for this model's transaction. A table: map_customer reads it in both of its stages. -#}
{{ config(materialized='table', pre_hook="set local enable_nestloop = off") }}
{%- set fuzzy_threshold = var('customer_fuzzy_threshold', 0.88) %}
{#- Whether customer `c` lies in the scope of entity `e`: one entity row per scope, so every match
    is an equi-join PostgreSQL can hash, not an OR that made each join a nested loop. -#}
{%- set eligible -%}
c.parent_customer_key = e.scope_key
{%- endset %}

with entities as (
    select * from {{ ref('int_customer_match_entities') }}
),

customers as (
    select
        customer_id,
        customer_name,
        customer_name_key,
        coalesce(parent_customer_key, '') as parent_customer_key,
        pw_portfolio_id,
        pw_building_id,
        pw_tenant_id,
        length(customer_name_key) as name_length,
        regexp_replace(customer_name_key, '[^0-9]', '', 'g') as name_digits
    from {{ ref('stg_sf_customers') }}
),

claimable as (
    select * from customers
    where pw_portfolio_id is null and pw_building_id is null and pw_tenant_id is null
),

locations as (
    select customer_id, street_key, street_2_key, postal_key
    from {{ ref('stg_sf_customer_locations') }}
    where street_key is not null
),

-- one row per PW id a customer is stamped with, so the stamp lookup is an equi-join (an OR of
-- the three columns made it a nested loop over entities x customers)
customer_stamps as (
    select 'portfolio' as pw_entity_type, pw_portfolio_id as pw_entity_id, customer_id, customer_name,
        customer_name_key
    from customers where pw_portfolio_id is not null
    union all
    select 'building', pw_building_id, customer_id, customer_name, customer_name_key
    from customers where pw_building_id is not null
    union all
    select 'tenant', pw_tenant_id, customer_id, customer_name, customer_name_key
    from customers where pw_tenant_id is not null
),

stamped as (
    select
        e.pw_entity_type,
        e.pw_entity_id,
        e.portfolio_id,
        'stamped_id' as match_method,
        cast(null as text) as scope_key,
        c.customer_id,
        c.customer_name,
        c.customer_name_key,
        cast(null as numeric) as similarity,
        cast(1.0 as numeric(5, 4)) as confidence
    from entities as e
    inner join customer_stamps as c on c.pw_entity_type = e.pw_entity_type and c.pw_entity_id = e.pw_entity_id
),

{#- Two stages of the same search: portfolios, then buildings and tenants, whose scopes are the
    customers their portfolio has candidates in. -#}
{%- for stage in ['portfolio', 'dependent'] %}

{{ stage }}_scopes as (
    {%- if stage == 'portfolio' %}
    select entities.*, '' as scope_key
    from entities
    where entities.pw_entity_type = 'portfolio'
    {%- else %}
    select entities.*, parents.customer_name_key as scope_key
    from entities
    inner join portfolio_candidates as parents on parents.pw_entity_id = entities.portfolio_id
    where entities.pw_entity_type <> 'portfolio'

    union

    select entities.*, ''
    from entities
    where entities.pw_entity_type = 'building'
    {%- endif %}
),

{{ stage }}_exact as (
    select e.pw_entity_type, e.pw_entity_id, e.portfolio_id, 'exact' as match_method, e.scope_key,
        c.customer_id, c.customer_name, c.customer_name_key, cast(null as numeric) as similarity,
        cast(1.0 as numeric(5, 4)) as confidence
    from {{ stage }}_scopes as e
    inner join claimable as c on c.customer_name = e.trimmed_name and {{ eligible }}
    where e.trimmed_name <> ''
),

{{ stage }}_normalized as (
    select e.pw_entity_type, e.pw_entity_id, e.portfolio_id, 'normalized' as match_method, e.scope_key,
        c.customer_id, c.customer_name, c.customer_name_key, cast(null as numeric) as similarity,
        cast(0.95 as numeric(5, 4)) as confidence
    from {{ stage }}_scopes as e
    inner join claimable as c on c.customer_name_key = e.name_key and {{ eligible }}
    where e.name_key <> ''
),

-- one row per customer, however many of its locations lie on the street
{{ stage }}_address as (
    select distinct e.pw_entity_type, e.pw_entity_id, e.portfolio_id, 'address' as match_method, e.scope_key,
        c.customer_id, c.customer_name, c.customer_name_key, cast(null as numeric) as similarity,
        cast(0.85 as numeric(5, 4)) as confidence
    from {{ stage }}_scopes as e
    inner join locations as l
        on l.street_key = e.street_key
        and (e.postal_key is null or l.postal_key is null or l.postal_key = e.postal_key)
        and (e.street_2_key is null or l.street_2_key is null or l.street_2_key = e.street_2_key)
    inner join claimable as c on c.customer_id = l.customer_id and {{ eligible }}
),

-- names of nearly the same length with the same digits, and where they first differ
{{ stage }}_fuzzy_pairs as (
    select
        e.pw_entity_type,
        e.pw_entity_id,
        e.portfolio_id,
        e.scope_key,
        e.name_key,
        e.name_length,
        c.customer_id,
        c.customer_name,
        c.customer_name_key,
        c.name_length as customer_name_length,
        1 - 1.0 / greatest(e.name_length, c.name_length) as similarity,
        mismatch.position
    from {{ stage }}_scopes as e
    inner join claimable as c
        on {{ eligible }}
        and c.name_digits = e.name_digits
        and abs(c.name_length - e.name_length) <= 1
        and c.customer_name_key <> e.name_key
        and 1 - 1.0 / greatest(e.name_length, c.name_length) >= {{ fuzzy_threshold }}
    cross join lateral (
        -- the first position where the two names differ (one past the shorter when none does)
        select coalesce(min(i), least(e.name_length, c.name_length) + 1) as position
        from generate_series(1, least(e.name_length, c.name_length)) as i
        where substr(e.name_key, i, 1) <> substr(c.customer_name_key, i, 1)
    ) as mismatch
    where e.pw_entity_type in ('portfolio', 'tenant') and e.name_key <> ''
),

-- one letter dropped / added / changed after the first difference, or two neighbours swapped
{{ stage }}_fuzzy as (
    select pw_entity_type, pw_entity_id, portfolio_id, 'fuzzy' as match_method, scope_key, customer_id,
        customer_name, customer_name_key, similarity, round(0.8 * similarity, 4)::numeric(5, 4) as confidence
    from {{ stage }}_fuzzy_pairs
    where case
        when name_length = customer_name_length + 1
            then substr(name_key, position + 1) = substr(customer_name_key, position)
        when customer_name_length = name_length + 1
            then substr(customer_name_key, position + 1) = substr(name_key, position)
        else substr(name_key, position + 1) = substr(customer_name_key, position + 1)
            or (substr(name_key, position, 1) = substr(customer_name_key, position + 1, 1)
                and substr(name_key, position + 1, 1) = substr(customer_name_key, position, 1)
                and substr(name_key, position + 2) = substr(customer_name_key, position + 2))
    end
),

{{ stage }}_candidates as (
    select * from stamped where pw_entity_type {{ "=" if stage == 'portfolio' else "<>" }} 'portfolio'
    union all
    select * from {{ stage }}_exact
    union all
    select * from {{ stage }}_normalized
    union all
    select * from {{ stage }}_address
    union all
    select * from {{ stage }}_fuzzy
),
{%- endfor %}

candidates as (
    select * from portfolio_candidates
    union all
    select * from dependent_candidates
)

select
    {{ surrogate_key(['pw_entity_type', 'pw_entity_id', 'match_method', 'scope_key', 'customer_id']) }}
        as candidate_key,
    pw_entity_type,
    pw_entity_id,
    portfolio_id,
    match_method,
    scope_key,
    customer_id,
    customer_name,
    customer_name_key,
    similarity,
    confidence
from candidates
