select
    {{ surrogate_key(["'pw-portfolio'", 'portfolio_id']) }} as portfolio_sk,
    portfolio_id,
    portfolio_name,
    abbreviation,
    is_active,
    created_at,
    modified_at
from {{ ref('stg_pw_portfolios') }}
