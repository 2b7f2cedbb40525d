-- PW portfolio / building / tenant <-> SF customer (docs/architecture.md §6), one row per PW entity, mapped
-- or not. The same rules as core/matching.py (the push's check before it creates a customer), so
-- the warehouse and the push agree on every name. int_customer_match_candidates finds every pair by
-- each method; this model ranks them, strongest method first (the first that finds exactly one
-- customer wins):
--   stamped_id 1, exact 2, normalized 3, address 4, fuzzy 5; and for a building that finds none,
--   its portfolio's customer ('portfolio', 0.75).
-- A wrong match sends a technician to the wrong customer, which is worse than an unmapped row:
--   * same-named SF customers are duplicates in SF already: the lowest id (the oldest) wins; but
--     several *different* customers at one address, or fuzzy hits on two different names, are
--     ambiguous and give nothing;
--   * one SF customer is never claimed by two PW entities (the building -> portfolio fallback
--     aside): the strongest method keeps it, a tie leaves every claimant unmapped ("ambiguous"),
--     and a portfolio's customer is never taken by one of its buildings or tenants.
-- Portfolios are settled first: a tenant looks only under its portfolio's SF customer, a building
-- there or at the top level, so their candidates count only in that scope.
{%- set method_ranks = {'stamped_id': 1, 'exact': 2, 'normalized': 3, 'address': 4, 'fuzzy': 5} %}

with entities as (
    select * from {{ ref('int_customer_match_entities') }}
),

candidates as (
    select * from {{ ref('int_customer_match_candidates') }}
),

-- every customer this model can give is a candidate's
customers as (
    select distinct customer_id, customer_name, customer_name_key from candidates
),

{#- Two stages of the same ranking: portfolios, then buildings and tenants, whose candidates count
    only under their portfolio's matched customer. -#}
{%- for stage in ['portfolio', 'dependent'] %}

{{ stage }}_candidates as (
    {%- if stage == 'portfolio' %}
    select * from candidates where pw_entity_type = 'portfolio'
    {%- else %}
    select candidates.*
    from candidates
    left join portfolio_matches as parents on parents.pw_entity_id = candidates.portfolio_id
    where candidates.pw_entity_type <> 'portfolio'
        and (candidates.match_method = 'stamped_id'
            or candidates.scope_key = parents.customer_name_key
            or (candidates.scope_key = '' and candidates.pw_entity_type = 'building'))
    {%- endif %}
),

-- each method's verdict per entity: its customer, or NULL when the method is ambiguous
{{ stage }}_hits as (
    select
        pw_entity_type,
        pw_entity_id,
        match_method,
        case
            when match_method = 'address' and count(distinct customer_id) > 1 then null
            when match_method = 'fuzzy' and count(distinct customer_name_key) > 1 then null
            else min(customer_id)
        end as customer_id,
        case match_method
            when 'address' then count(distinct customer_id)
            when 'fuzzy' then count(distinct customer_name_key)
            else 1
        end as candidates,
        max(similarity) as similarity,
        max(confidence) as confidence
    from {{ stage }}_candidates
    group by 1, 2, 3
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
        similarity,
        confidence
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
        select pw_entity_type, pw_entity_id, match_method, 0, customer_id, similarity, confidence
        from portfolio_matches
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
        entities.*,
        coalesce(matches.customer_id, case when entities.pw_entity_type = 'building' then portfolio.customer_id end)
            as sf_customer_id,
        case
            when matches.customer_id is not null then matches.match_method
            when entities.pw_entity_type = 'building' and portfolio.customer_id is not null then 'portfolio'
        end as match_method,
        matches.similarity,
        case
            when matches.customer_id is not null then matches.confidence
            when entities.pw_entity_type = 'building' and portfolio.customer_id is not null then 0.75
        end as confidence,
        portfolio.customer_id is not null as portfolio_is_mapped,
        lost.reason as lost_reason,
        ambiguous_hits.reason as ambiguous_reason
    from entities
    left join matches
        on matches.pw_entity_type = entities.pw_entity_type and matches.pw_entity_id = entities.pw_entity_id
    left join portfolio_matches as portfolio
        on entities.pw_entity_type <> 'portfolio' and portfolio.pw_entity_id = entities.portfolio_id
    left join lost
        on lost.pw_entity_type = entities.pw_entity_type and lost.pw_entity_id = entities.pw_entity_id
    left join ambiguous_hits
        on ambiguous_hits.pw_entity_type = entities.pw_entity_type and ambiguous_hits.pw_entity_id = entities.pw_entity_id
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
    resolved.confidence::numeric(5, 4) as confidence,
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
