-- Operator overrides of the sync flags (ops.flags). Values stay as typed: each flag's reader
-- parses its own (a comma-separated list, a number, a boolean).
select
    name as flag_name,
    value as flag_value,
    updated_at,
    updated_by
from {{ source('ops', 'flags') }}
