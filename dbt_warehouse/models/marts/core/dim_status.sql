-- Every PW and SF status -> one canonical status and an open/closed category (docs/architecture.md §5).
-- Rows: every status in the mapping seed plus every status observed in the data (PW work-order
-- history, SF jobs, the SF account's status list), keyed by (system, normalised status).
-- Mapping: the seed first; an SF status missing from the seed falls back to its SF status
-- category (Open Jobs / ... In Progress -> open, Closed Jobs -> closed), as core.statuses does for
-- custom statuses. Anything else stays unmapped (is_mapped = false) and fails unmapped_status.
-- is_in_open_list: the open list in force - the flag 'pw_open_statuses' when set, else the seed.
with seed_mapping as (
    select
        lower(trim(system)) as system,
        {{ normalize_text('source_status') }} as status_key,
        min(source_status) as source_status,
        min(canonical_status) as canonical_status,
        min(lower(trim(category))) as category
    from {{ ref('status_mapping') }}
    group by 1, 2
),

-- Each source is reduced to its distinct statuses first (a hash aggregate), so the work-order
-- history is read once without sorting every version of every work order by status.
observed as (
    select 'pw' as system, status_key, min(status) as status, 'pw_work_orders' as seen_in
    from {{ ref('snap_pw_work_orders') }}
    where status_key <> ''
    group by status_key
    union all
    select 'sf', status_key, min(status), 'sf_jobs'
    from {{ ref('stg_sf_jobs') }}
    where status_key <> ''
    group by status_key
    union all
    select 'sf', status_key, min(status_name), 'sf_job_statuses'
    from {{ ref('stg_sf_job_statuses') }}
    where status_key <> ''
    group by status_key
),

observed_keys as (
    select
        system,
        status_key,
        min(status) as observed_status,
        string_agg(distinct seen_in, ',' order by seen_in) as seen_in
    from observed
    group by system, status_key
),

sf_categories as (
    select distinct on (status_key)
        status_key,
        status_category,
        case {{ normalize_text('status_category') }}
            when 'open jobs' then 'open'
            when 'open jobs that are in progress' then 'open'
            when 'closed jobs' then 'closed'
        end as category
    from {{ ref('stg_sf_job_statuses') }}
    order by status_key, job_status_id
),

flag_override as (
    select flag_value as open_list
    from {{ ref('stg_ops_flags') }}
    where flag_name = 'pw_open_statuses' and nullif(trim(flag_value), '') is not null
),

open_list as (
    select {{ normalize_text('s.status') }} as status_key
    from flag_override
    cross join lateral unnest(string_to_array(flag_override.open_list, ',')) as s(status)
    union
    select {{ normalize_text('status') }}
    from {{ ref('open_statuses') }}
    where not exists (select 1 from flag_override)
),

all_keys as (
    select system, status_key from seed_mapping
    union
    select system, status_key from observed_keys
)

select
    {{ surrogate_key(['all_keys.system', 'all_keys.status_key']) }} as status_sk,
    all_keys.system,
    coalesce(seed_mapping.source_status, observed_keys.observed_status) as source_status,
    all_keys.status_key,
    coalesce(
        seed_mapping.canonical_status,
        case when sf_categories.category is not null then replace(all_keys.status_key, ' ', '_') end
    ) as canonical_status,
    coalesce(seed_mapping.category, sf_categories.category) as category,
    coalesce(seed_mapping.category, sf_categories.category) is not null as is_mapped,
    case
        when seed_mapping.category is not null then 'seed'
        when sf_categories.category is not null then 'sf_status_category'
    end as mapping_source,
    sf_categories.status_category as sf_status_category,
    all_keys.status_key in (select status_key from open_list) as is_in_open_list,
    observed_keys.seen_in,
    observed_keys.status_key is not null as is_observed
from all_keys
left join seed_mapping
    on seed_mapping.system = all_keys.system and seed_mapping.status_key = all_keys.status_key
left join observed_keys
    on observed_keys.system = all_keys.system and observed_keys.status_key = all_keys.status_key
left join sf_categories
    on all_keys.system = 'sf' and sf_categories.status_key = all_keys.status_key
