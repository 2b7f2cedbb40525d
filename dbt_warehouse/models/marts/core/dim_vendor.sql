select
    {{ surrogate_key(["'pw-vendor'", 'vendor_id']) }} as vendor_sk,
    vendor_id,
    vendor_name,
    company_name,
    vendor_type,
    is_active,
    email,
    phone,
    street,
    city,
    state_region,
    postal_code,
    modified_at
from {{ ref('stg_pw_vendors') }}
