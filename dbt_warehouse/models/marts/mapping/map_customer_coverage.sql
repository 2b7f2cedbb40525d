-- Mapping coverage per PW entity type (docs/architecture.md §6 target: >= 95 %), surfaced as a metric.
select
    pw_entity_type,
    count(*) as entities,
    count(*) filter (where is_mapped) as mapped,
    count(*) filter (where not is_mapped) as unmapped,
    round(count(*) filter (where is_mapped)::numeric / nullif(count(*), 0), 4) as coverage
from {{ ref('map_customer') }}
group by pw_entity_type
