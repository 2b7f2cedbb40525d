-- PW portfolio / building / tenant <-> SF customer (docs/architecture.md §6), one row per PW entity, mapped
-- or not. The same rules as core/matching.py (the push's check before it creates a customer), so
-- the warehouse and the push agree on every name. Methods, strongest first (the first that finds
-- exactly one customer wins):
--   stamped_id  1.00  the SF customer carries the PW id in its custom field (we created it)
--   exact       1.00  identical name (trimmed)
--   normalized  0.95  equal core.matching.normalize_name (case, punctuation, "&", "the", LLC/Inc...)
--   address     0.85  exactly one SF customer has a location on the same normalised street
--                     (postal code / line 2 must agree when both sides have one)
--   fuzzy       0.8 x similarity  portfolios and tenants: normalised names one typo apart (one
--                     letter changed, added or dropped, or two neighbours swapped), the same
--                     digits, similarity = 1 - 1 / longer length >= customer_fuzzy_threshold
--                     (0.88: names of 9+ characters). core.matching.fuzzy_similarity.
--   portfolio   0.75  buildings only: no customer of its own, so jobs go to its portfolio's customer
-- Which SF customers an entity may match: a portfolio, top-level customers; a tenant, children of
-- its portfolio's SF customer (our payloads make tenants children of it); a building, top-level
-- customers or children of its portfolio's customer. So portfolios are matched first.
-- A wrong match sends a technician to the wrong customer, which is worse than an unmapped row:
--   * a customer stamped with a PW id belongs to that entity; names and addresses never give it
--     to another one;
--   * same-named SF customers are duplicates in SF already: the lowest id (the oldest) wins; but
--     several *different* customers at one address, or fuzzy hits on two different names, are
--     ambiguous and give nothing;
--   * one SF customer is never claimed by two PW entities (the building -> portfolio fallback
--     aside): the strongest method keeps it, a tie leaves every claimant unmapped ("ambiguous"),
--     and a portfolio's customer is never taken by one of its buildings or tenants.
{#- The planner estimates the filtered entity CTEs at a handful of rows and then joins the fuzzy
    candidates by nested loop, rescanning ~30,000 entities from disk per SF customer (80 M row
    comparisons, 25 s at the large scale); every join here has an equality to hash on, and the
    lateral scans stay nested loops regardless. SET LOCAL lasts for this model's transaction. -#}
{{ config(pre_hook="set local enable_nestloop = off") }}
{%- set fuzzy_threshold = var('customer_fuzzy_threshold', 0.88) %}
{%- set method_ranks = {'stamped_id': 1, 'exact': 2, 'normalized': 3, 'address': 4, 'fuzzy': 5} %}
{#- Whether customer `c` may be matched to entity `e` (see above): each entity row carries one
    scope (a parent customer's name key, '' for top level) per place it may look, so every match
    is an equi-join PostgreSQL can hash, not an OR that made each join a nested loop. -#}
{%- set eligible -%}
c.parent_customer_key = e.scope_key
{%- endset %}

with customers as (
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

-- Each entity with its match keys. Normalising is a chain of regular expressions per value, so
-- each key is computed only where it can exist: addresses for buildings alone, and the tenants
-- (most of the entities) bring the name key their staging computed once per version.
portfolios as (
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

named as (
    select
        entities.*,
        trim(entities.pw_name) as trimmed_name
    from (
        select * from portfolios
        union all
        select * from buildings
        union all
        select * from tenants
    ) as entities
),

keyed as (
    select
        named.*,
        length(named.name_key) as name_length,
        regexp_replace(named.name_key, '[^0-9]', '', 'g') as name_digits
    from named
),

-- one row per PW id a customer is stamped with, so the stamp lookup is an equi-join (an OR of
-- the three columns made it a nested loop over entities x customers)
customer_stamps as (
    select 'portfolio' as pw_entity_type, pw_portfolio_id as pw_entity_id, customer_id
    from customers where pw_portfolio_id is not null
    union all
    select 'building', pw_building_id, customer_id from customers where pw_building_id is not null
    union all
    select 'tenant', pw_tenant_id, customer_id from customers where pw_tenant_id is not null
),

stamps as (
    select e.pw_entity_type, e.pw_entity_id, min(c.customer_id) as customer_id
    from keyed as e
    inner join customer_stamps as c on c.pw_entity_type = e.pw_entity_type and c.pw_entity_id = e.pw_entity_id
    group by 1, 2
),

{#- Two stages of the same matching: portfolios, then buildings and tenants, whose eligible
    customers hang under their portfolio's matched customer. -#}
{%- for stage in ['portfolio', 'dependent'] %}

{{ stage }}_entities as (
    {%- if stage == 'portfolio' %}
    select keyed.*, '' as scope_key
    from keyed
    where keyed.pw_entity_type = 'portfolio'
    {%- else %}
    select keyed.*, parents.customer_name_key as scope_key
    from keyed
    inner join portfolio_matches as parents on parents.pw_entity_id = keyed.portfolio_id
    where keyed.pw_entity_type <> 'portfolio'

    union all

    select keyed.*, ''
    from keyed
    where keyed.pw_entity_type = 'building'
    {%- endif %}
),

{{ stage }}_fuzzy_pairs as (
    select
        e.pw_entity_type,
        e.pw_entity_id,
        e.name_key,
        e.name_length,
        c.customer_id,
        c.customer_name_key,
        c.name_length as customer_name_length,
        1 - 1.0 / greatest(e.name_length, c.name_length) as similarity,
        mismatch.position
    from {{ stage }}_entities as e
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

{{ stage }}_hits as (
    select pw_entity_type, pw_entity_id, 'stamped_id' as match_method, customer_id, 1 as candidates,
        cast(null as numeric) as similarity
    from stamps
    where pw_entity_type {{ "=" if stage == 'portfolio' else "<>" }} 'portfolio'

    union all

    select e.pw_entity_type, e.pw_entity_id, 'exact', min(c.customer_id), 1, null
    from {{ stage }}_entities as e
    inner join claimable as c on c.customer_name = e.trimmed_name and {{ eligible }}
    where e.trimmed_name <> ''
    group by 1, 2

    union all

    select e.pw_entity_type, e.pw_entity_id, 'normalized', min(c.customer_id), 1, null
    from {{ stage }}_entities as e
    inner join claimable as c on c.customer_name_key = e.name_key and {{ eligible }}
    where e.name_key <> ''
    group by 1, 2

    union all

    select
        e.pw_entity_type,
        e.pw_entity_id,
        'address',
        case when count(distinct c.customer_id) = 1 then min(c.customer_id) end,
        count(distinct c.customer_id),
        null
    from {{ stage }}_entities as e
    inner join locations as l
        on l.street_key = e.street_key
        and (e.postal_key is null or l.postal_key is null or l.postal_key = e.postal_key)
        and (e.street_2_key is null or l.street_2_key is null or l.street_2_key = e.street_2_key)
    inner join claimable as c on c.customer_id = l.customer_id and {{ eligible }}
    group by 1, 2

    union all

    -- one letter dropped / added / changed after the first difference, or two neighbours swapped
    select
        pw_entity_type,
        pw_entity_id,
        'fuzzy',
        case when count(distinct customer_name_key) = 1 then min(customer_id) end,
        count(distinct customer_name_key),
        max(similarity)
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
    group by 1, 2
),

{{ stage }}_best as (
    select distinct on (pw_entity_type, pw_entity_id)
        pw_entity_type,
        pw_entity_id,
        match_method,
        case match_method
            {%- for method, rank in method_ranks.items() %}
            when '{{ method }}' then {{ rank }}
            {%- endfor %}
        end as method_rank,
        customer_id,
        similarity
    from {{ stage }}_hits
    where customer_id is not null
    order by pw_entity_type, pw_entity_id, method_rank
),

{{ stage }}_claims as (
    select
        claims.*,
        min(claims.method_rank) over by_customer as winning_rank,
        count(*) over (partition by claims.customer_id, claims.method_rank) as claimants_at_rank,
        first_value(claims.pw_entity_type || ' ' || claims.pw_entity_id || ' (' || claims.match_method || ')')
            over (by_customer order by claims.method_rank, claims.pw_entity_type, claims.pw_entity_id) as strongest
    from (
        select * from {{ stage }}_best
        {%- if stage == 'dependent' %}
        union all
        -- a portfolio keeps its customer: rank 0, never shown
        select pw_entity_type, pw_entity_id, match_method, 0, customer_id, similarity from portfolio_matches
        {%- endif %}
    ) as claims
    window by_customer as (partition by claims.customer_id)
),

{{ stage }}_matches as (
    select
        claims.*,
        customers.customer_name_key
    from {{ stage }}_claims as claims
    inner join customers on customers.customer_id = claims.customer_id
    where claims.method_rank = claims.winning_rank
        and claims.claimants_at_rank = 1
        {%- if stage == 'dependent' %}
        and claims.method_rank > 0
        {%- endif %}
),

{{ stage }}_lost as (
    select
        pw_entity_type,
        pw_entity_id,
        case
            when method_rank = winning_rank
                then 'ambiguous: SF customer ' || customer_id || ' matches ' || claimants_at_rank
                    || ' PW entities equally (' || match_method || ')'
            else 'ambiguous: SF customer ' || customer_id || ' (' || match_method || ') is matched more strongly by '
                || strongest
        end as reason
    from {{ stage }}_claims
    where (method_rank <> winning_rank or claimants_at_rank > 1)
        {%- if stage == 'dependent' %}
        and method_rank > 0
        {%- endif %}
),
{%- endfor %}

matches as (
    select * from portfolio_matches
    union all
    select * from dependent_matches
),

lost as (
    select * from portfolio_lost
    union all
    select * from dependent_lost
),

ambiguous_hits as (
    select
        pw_entity_type,
        pw_entity_id,
        string_agg(
            case match_method
                when 'address' then candidates || ' SF customers at this address'
                else 'one typo from ' || candidates || ' different SF customer names'
            end, '; ' order by match_method
        ) as reason
    from (
        select * from portfolio_hits
        union all
        select * from dependent_hits
    ) as hits
    where customer_id is null
    group by 1, 2
),

resolved as (
    select
        keyed.*,
        coalesce(matches.customer_id, case when keyed.pw_entity_type = 'building' then portfolio.customer_id end)
            as sf_customer_id,
        case
            when matches.customer_id is not null then matches.match_method
            when keyed.pw_entity_type = 'building' and portfolio.customer_id is not null then 'portfolio'
        end as match_method,
        matches.similarity,
        portfolio.customer_id is not null as portfolio_is_mapped,
        lost.reason as lost_reason,
        ambiguous_hits.reason as ambiguous_reason
    from keyed
    left join matches
        on matches.pw_entity_type = keyed.pw_entity_type and matches.pw_entity_id = keyed.pw_entity_id
    left join portfolio_matches as portfolio
        on keyed.pw_entity_type <> 'portfolio' and portfolio.pw_entity_id = keyed.portfolio_id
    left join lost
        on lost.pw_entity_type = keyed.pw_entity_type and lost.pw_entity_id = keyed.pw_entity_id
    left join ambiguous_hits
        on ambiguous_hits.pw_entity_type = keyed.pw_entity_type and ambiguous_hits.pw_entity_id = keyed.pw_entity_id
)

select
    {{ surrogate_key(['resolved.pw_entity_type', 'resolved.pw_entity_id']) }} as map_customer_key,
    resolved.pw_entity_type,
    resolved.pw_entity_id,
    resolved.pw_name,
    resolved.portfolio_id,
    resolved.sf_customer_id,
    customers.customer_name as sf_customer_name,
    resolved.match_method,
    round(case resolved.match_method
        when 'stamped_id' then 1.0
        when 'exact' then 1.0
        when 'normalized' then 0.95
        when 'address' then 0.85
        when 'fuzzy' then 0.8 * resolved.similarity
        when 'portfolio' then 0.75
    end, 4)::numeric(5, 4) as confidence,
    case resolved.match_method
        when 'normalized' then 'same normalised name "' || resolved.name_key || '"'
        when 'address' then 'the only SF customer on "' || resolved.street_key || '"'
        when 'fuzzy' then '"' || resolved.name_key || '" is one typo from "' || customers.customer_name_key
            || '" (similarity ' || round(resolved.similarity, 4) || ')'
        when 'portfolio' then 'no SF customer of its own: its portfolio''s'
    end as match_detail,
    resolved.sf_customer_id is not null as is_mapped,
    case
        when resolved.sf_customer_id is not null then null
        when resolved.lost_reason is not null then resolved.lost_reason
        when resolved.ambiguous_reason is not null then 'ambiguous: ' || resolved.ambiguous_reason
        when resolved.name_key = '' and resolved.street_key is null then 'no name or address to match on'
        when resolved.pw_entity_type = 'tenant' and resolved.portfolio_id is null
            then 'no SF customer with this stamp; tenant has no lease/portfolio'
        when resolved.pw_entity_type = 'tenant' and not resolved.portfolio_is_mapped
            then 'no SF customer with this stamp, and the portfolio is unmapped'
        when resolved.pw_entity_type = 'tenant'
            then 'no SF customer with this stamp or name under the portfolio''s customer'
        when resolved.pw_entity_type = 'building'
            then 'no SF customer with this stamp, name or address, and the portfolio is unmapped'
        else 'no SF customer with this stamp, name or address'
    end as unmapped_reason
from resolved
left join customers on customers.customer_id = resolved.sf_customer_id
