-- PW entities with no SF customer, with the reason: listed, never silently skipped.
select
    pw_entity_type,
    pw_entity_id,
    pw_name,
    portfolio_id,
    unmapped_reason
from {{ ref('map_customer') }}
where not is_mapped
