-- Tenants (PW contacts), current state: the live keys of the incremental stg_pw_tenants_latest.
select
    tenant_id, contact_type, first_name, last_name, company, display_name, name_key,
    email, mobile_phone, home_phone, work_phone, street, city,
    postal_code, modified_at, source_modified_at, _version_id, _loaded_at, _run_id
from {{ ref('stg_pw_tenants_latest') }}
where not _is_deleted
