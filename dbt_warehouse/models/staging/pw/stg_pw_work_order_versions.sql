-- Every landed version of every PW work order, typed like stg_pw_work_orders_latest, tombstones
-- included: for models about what PW said at some point rather than now. A view: a reader that
-- filters on _version_id reaches raw's primary key through it.
select
    source_id as work_order_id,
    {{ pw_work_order_fields() }},
    source_modified_at,
    payload,
    _source_hash,
    _is_deleted,
    _version_id,
    _loaded_at,
    _run_id
from {{ source('raw_pw', 'pw_work_orders') }}
