{{ config(materialized='incremental', unique_key='work_order_id', on_schema_change='append_new_columns',
          indexes=[{'columns': ['work_order_id'], 'unique': true}],
          post_hook="create index if not exists {{ this.identifier }}__raw_version_id on {{ this }} (raw_version_id)") }}

-- Each work order exactly as first received (its first landed version), for audit: what PW
-- originally said, before edits and before the unit routing correction. Insert-only: a work
-- order's first version never changes, so incremental runs only add work orders not seen yet.
-- Those can only have versions landed after the newest first version already kept (_version_id
-- is the landing order), so a run reads that tail of raw through its primary key, not all of it
-- (the staging view passes the filter down).
with first_versions as (
    select distinct on (work_order_id)
        work_order_id,
        work_order_number,
        building_id,
        source_unit_id,
        status,
        description,
        created_at,
        source_modified_at,
        payload,
        _source_hash,
        _loaded_at,
        _run_id,
        _version_id
    from {{ ref('stg_pw_work_order_versions') }} as versions
    {% if is_incremental() %}
    where _version_id > (select coalesce(max(raw_version_id), 0) from {{ this }})
      and not exists (select 1 from {{ this }} as kept where kept.work_order_id = versions.work_order_id)
    {% endif %}
    order by work_order_id, _version_id
)

select
    work_order_id,
    {{ surrogate_key(["'pw-work-order'", 'work_order_id']) }} as work_order_sk,
    work_order_number,
    building_id,
    source_unit_id as unit_id_as_received,
    status,
    description,
    created_at,
    source_modified_at,
    payload as original_payload,
    _source_hash as original_hash,
    _version_id as raw_version_id,
    _loaded_at as first_landed_at,
    _run_id as first_landed_by_run_id
from first_versions
