-- SF jobs, current state. The cross-system stamp (core.idempotency, decision 0012) is ours only:
-- po_number "PW-<id>" and/or the "PW Work Order ID" custom field; a bare number in po_number is
-- the customer's own PO and stamps nothing. claimed_work_order_ids are the work orders its
-- stamps name; pw_work_order_id the one it is linked to when they agree, with stamp_problem
-- saying why not when they do not.
with latest as (
    {{ latest_versions(source('raw_sf', 'sf_jobs')) }}
),

custom_stamps as (
    select
        latest.source_id,
        min({{ parse_stamp_field("(f->>'value')") }}) as custom_field_work_order_id,
        max({{ parse_stamp_field("(f->>'value')") }}) as custom_field_work_order_id_max
    from latest
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(latest.payload->'custom_fields') = 'array' then latest.payload->'custom_fields'
            else '[]'::jsonb end
    ) as f
    where {{ normalize_text("f->>'name'") }} = 'pw work order id'
    group by latest.source_id
),

renamed as (
    select
        latest.source_id as job_id,
        {{ clean_text("latest.payload->>'number'") }} as job_number,
        {{ safe_bigint("latest.payload->>'customer_id'") }} as customer_id,
        {{ clean_text("latest.payload->>'customer_name'") }} as customer_name,
        {{ clean_text("latest.payload->>'status'") }} as status,
        {{ normalize_text("latest.payload->>'status'") }} as status_key,
        {{ clean_text("latest.payload->>'sub_status'") }} as sub_status,
        {{ clean_text("latest.payload->>'category'") }} as category,
        {{ clean_text("latest.payload->>'priority'") }} as priority,
        {{ clean_text("latest.payload->>'po_number'") }} as po_number,
        {{ clean_text("latest.payload->>'check_number'") }} as check_number,
        {{ parse_cross_system_id("(latest.payload->>'po_number')") }} as po_number_work_order_id,
        custom_stamps.custom_field_work_order_id,
        custom_stamps.custom_field_work_order_id_max,
        {{ clean_text("latest.payload->>'description'") }} as description,
        {{ clean_text("latest.payload->>'street_1'") }} as street_1,
        {{ clean_text("latest.payload->>'street_2'") }} as street_2,
        {{ clean_text("latest.payload->>'city'") }} as city,
        {{ clean_text("latest.payload->>'postal_code'") }} as postal_code,
        {{ safe_numeric("latest.payload->>'total'") }} as total,
        {{ safe_date("latest.payload->>'start_date'") }} as start_date,
        {{ safe_date("latest.payload->>'end_date'") }} as end_date,
        {{ safe_timestamp("latest.payload->>'created_at'") }} as created_at,
        {{ safe_timestamp("latest.payload->>'closed_at'") }} as closed_at,
        {{ version_metadata() }}
    from latest
    left join custom_stamps on custom_stamps.source_id = latest.source_id
),

stamped as (
    select
        renamed.*,
        case
            when custom_field_work_order_id <> custom_field_work_order_id_max then
                'its "PW Work Order ID" custom fields name work orders ' || custom_field_work_order_id
                || ' and ' || custom_field_work_order_id_max
            when po_number_work_order_id <> custom_field_work_order_id then
                'po_number ' || po_number || ' and its "PW Work Order ID" custom field '
                || custom_field_work_order_id || ' name different work orders'
        end as stamp_problem
    from renamed
)

select
    stamped.*,
    case when stamp_problem is null then coalesce(po_number_work_order_id, custom_field_work_order_id) end
        as pw_work_order_id,
    array(
        select distinct claimed from unnest(array[
            po_number_work_order_id, custom_field_work_order_id, custom_field_work_order_id_max]) as claimed
        where claimed is not null order by claimed
    ) as claimed_work_order_ids
from stamped
