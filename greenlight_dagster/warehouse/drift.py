"""The linked PW work orders and SF jobs as the marts and the ledger see them, for the drift rules
(`core.drift`).

One row per link of ``marts.map_work_order_job``, with both statuses and their ``dim_status``
categories, and the latest PW status write the ledger holds for the work order: whether it is
still owed, or was sent after the warehouse last read the work order (so PW only looks behind).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from greenlight_dagster.core.drift import drift_records

LINKS_SQL = """
with work_orders as (
    select work_order_id, work_order_number, status, status_sk, is_deleted
    from marts.fact_work_orders where is_current
)
select link.work_order_id, wo.work_order_number, link.job_id, link.is_known_work_order, link.jobs_for_work_order,
       link.stamp_problem,
       coalesce(wo.is_deleted, false) as pw_deleted,
       wo.status as pw_status, pw.canonical_status as pw_canonical, pw.category as pw_category,
       jobs.status as sf_status, sf.canonical_status as sf_canonical, sf.category as sf_category,
       sf.sf_status_category, write.operation as pw_write, write.state as pw_write_state,
       write.payload ->> 'status' as pw_write_status,
       write.state = 'done' and write.updated_at > coalesce(
           (select max(raw._loaded_at) from raw.pw_work_orders as raw where raw.source_id = link.work_order_id),
           '-infinity') as pw_write_unread
from marts.map_work_order_job as link
join marts.fact_jobs as jobs on jobs.job_id = link.job_id
left join work_orders as wo on wo.work_order_id = link.work_order_id
left join marts.dim_status as pw on pw.status_sk = wo.status_sk
left join marts.dim_status as sf on sf.status_sk = jobs.status_sk
left join lateral (
    select ledger.operation, ledger.state, ledger.payload, ledger.updated_at
    from ops.sync_ledger as ledger
    where ledger.target = 'pw' and ledger.operation in ('update_work_order', 'close_work_order')
      and ledger.source_id = link.work_order_id::text
    order by ledger.id desc
    limit 1
) as write on true
order by link.work_order_id, link.job_id
"""


def find_drift(engine: Engine) -> list[dict[str, Any]]:
    """Every linked record whose PW and SF sides disagree, with why and what to do (empty before the marts exist)."""
    try:
        with engine.connect() as conn:
            links = [dict(row._mapping) for row in conn.execute(text(LINKS_SQL))]
    except ProgrammingError:
        return []
    return drift_records(links)
