"""``reconcile/sync_report``: the page an operator reads after a sync, in the asset's metadata.

No ``from __future__ import annotations``: Dagster reads the resource parameter types.

Two questions, answered without SQL or logs:

* *Is the sync healthy over time?* Each report measures its run (records landed, SF jobs
  created, errors, open dead letters, mapping coverage, duration), stores the measures on the
  run's ``ops.sync_runs`` row (so the history lives in the warehouse, next to the runs), and
  charts the last 30 measured runs. The chart is a matplotlib PNG embedded in the Markdown as a
  ``data:`` URI: the Dagster UI renders Markdown images inline, whereas a path metadata value
  only shows the path, which an operator's browser cannot open on the server. The measures are
  also numeric metadata, so the UI plots each one over time as well.
* *Where do PW and SF disagree right now?* The drift table joins the marts (``map_work_order_job``,
  ``fact_work_orders``, ``fact_jobs``, ``dim_status``) and says why for every linked record, and
  what the operator should do about it.

Statuses agree when the PW status is what the push makes of the SF job's status
(`StatusRules.pw_follows_sf`): PW "In Progress" against SF "On Site" is the push's own work, not
drift. A status difference the ledger already handles is *expected*: a write the push sent after
the warehouse last read that work order (the marts were built before the push, so the report sees
PW as it was; the next sync reads the change back), or one still to be sent (planned, retrying -
a dry run sends nothing). Expected rows stay in the table, saying so; only the others make
``pw_and_sf_agree`` warn.
"""

import base64
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Self

import dagster as dg
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from greenlight_dagster.core.markdown import escape_markdown
from greenlight_dagster.core.statuses import DEFAULT_STATUS_RULES, PwAction, StatusRules, UnmappedStatusError
from greenlight_dagster.defs.push import PW_WORK_ORDERS, SF_CUSTOMERS, SF_JOBS
from greenlight_dagster.defs.reconcile.resources import SyncFlagsResource
from greenlight_dagster.defs.resources import WarehouseResource
from greenlight_dagster.defs.runs import run_kind
from greenlight_dagster.defs.warehouse.assets import coverage_metadata
from greenlight_dagster.warehouse.run_records import finish_run, record_run
from greenlight_dagster.warehouse.tables import RAW_ENTITIES, raw_table_name

SYNC_REPORT = dg.AssetKey(["reconcile", "sync_report"])
HISTORY_RUNS = 30
DRIFT_ROWS = 200
#: The run measures, in chart order, with the label an operator reads.
MEASURES = {
    "records_synced": "records synced (new versions landed)",
    "jobs_created": "SF jobs created",
    "errors": "errors logged",
    "dead_letters": "dead letters open",
    "mapping_coverage": "customer mapping coverage (%)",
    "duration_seconds": "run duration (s)",
}


@dataclass(frozen=True)
class RunMeasures:
    """What one run did, measured by its report at the end of the run."""

    run_id: str
    measured_at: datetime
    records_synced: int
    jobs_created: int
    errors: int
    dead_letters: int
    mapping_coverage: float | None
    duration_seconds: float

    def as_stats(self) -> dict[str, Any]:
        return {**asdict(self), "measured_at": self.measured_at.isoformat()}

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> Self:
        return cls(**{**stats, "measured_at": datetime.fromisoformat(stats["measured_at"])})


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _mapping_coverage(engine: Engine) -> float | None:
    """Overall coverage from ``marts.map_customer`` (None before the warehouse is first built)."""
    try:
        return float(coverage_metadata(engine)["coverage"].value)
    except ProgrammingError:
        return None


def measure_run(engine: Engine, run_id: str, started_at: datetime, now: datetime) -> RunMeasures:
    landed = " + ".join(f'(select count(*) from raw."{raw_table_name(s, e)}" where _run_id = :run)'
                        for s, e in RAW_ENTITIES)
    return RunMeasures(
        run_id=run_id,
        measured_at=now,
        records_synced=int(_scalar(engine, f"select {landed}", run=run_id)),
        jobs_created=int(_scalar(engine, "select coalesce((stats->'sf_jobs'->>'created')::int, 0) "
                                         "from ops.sync_runs where run_id = :run", run=run_id) or 0),
        errors=int(_scalar(engine, "select count(*) from ops.error_log where run_id = :run and severity = 'error'",
                           run=run_id)),
        dead_letters=int(_scalar(engine, "select count(*) from ops.dead_letter where replayed_at is null")),
        mapping_coverage=_mapping_coverage(engine),
        duration_seconds=round(max((now - started_at).total_seconds(), 0.0), 1),
    )


def run_history(engine: Engine, limit: int = HISTORY_RUNS) -> list[RunMeasures]:
    """The last ``limit`` measured runs, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "select stats->'sync_report' as measures from ops.sync_runs where stats ? 'sync_report' "
            "order by started_at desc limit :limit"), {"limit": limit}).all()
    return [RunMeasures.from_stats(row.measures) for row in reversed(rows)]


def render_chart(history: Sequence[RunMeasures]) -> bytes:
    """One small panel per measure over the runs (PNG); the newest run is on the right."""
    # Imported here: matplotlib costs every run worker ~0.3 s and ~30 MB, and only this asset draws.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 6), dpi=72, layout="constrained")
    axes = figure.subplots(2, 3)
    labels = [m.measured_at.strftime("%m-%d %H:%M") for m in history]
    positions = list(range(len(history)))
    for ax, (name, title) in zip(axes.flat, MEASURES.items(), strict=True):
        values = [getattr(m, name) if getattr(m, name) is not None else float("nan") for m in history]
        if name == "mapping_coverage":
            ax.plot(positions, [v * 100 for v in values], marker="o", color="tab:green")
            ax.axhline(95, color="tab:red", linestyle="--", linewidth=1, label="target 95 %")
            ax.set_ylim(0, 105)
            ax.legend(loc="lower left", fontsize=8)
        else:
            color = "tab:red" if name in ("errors", "dead_letters") else "tab:blue"
            ax.bar(positions, values, color=color)
            ax.set_ylim(0, max([v for v in values if v == v] + [1]) * 1.1)  # v == v drops NaN; no negative axis
            ax.yaxis.set_major_locator(MaxNLocator(integer=name != "duration_seconds"))
        ax.set_title(title, fontsize=10)
        step = max(1, len(labels) // 6)
        ax.set_xticks(positions[::step], labels[::step], rotation=30, fontsize=7, ha="right")
        ax.tick_params(axis="y", labelsize=8)
    figure.suptitle(f"last {len(history)} sync run(s)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


DRIFT_SQL = """
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

#: Ledger states of a PW write the push still owes (sent by a run with sending on, or retried).
PENDING_STATES = frozenset({"planned", "sending", "failed"})
SENDING_ON = "turn sending on if it is off (`greenlight flags set dry_run false`); nothing else"


class Drift(NamedTuple):
    """One reason a linked PW work order and SF job disagree: a short kind to count, the detail, and
    what the operator should do (``expected``: the sync already handles it)."""

    kind: str
    detail: str
    action: str
    expected: bool = False


def _status_drift(row: Mapping[str, Any], rules: StatusRules) -> Drift | None:
    """The status difference of a linked pair, or None when the PW status follows the SF status."""
    pw_category, sf_category, pw_status, sf_status = (row["pw_category"], row["sf_category"], row["pw_status"],
                                                      row["sf_status"])
    if pw_category is None or sf_category is None:
        return None  # reported as unmapped
    if pw_category == "closed":
        if sf_category == "closed":
            return None
        return Drift("closed in PW, open in SF", f"PW work order is {pw_status} but the SF job is still {sf_status}",
                     "the sync never changes SF job statuses: close or cancel the job in ServiceFusion")
    if rules.pw_follows_sf(pw_status, sf_status, row.get("sf_status_category")):
        return None
    kind, detail = (("closed in SF, open in PW", f"SF job is {sf_status} but the PW work order is still {pw_status}")
                    if sf_category == "closed" else
                    ("status mismatch", f"SF job is {sf_status} but the PW work order is {pw_status}"))
    write, state = row.get("pw_write"), row.get("pw_write_state")
    if write and row.get("pw_write_unread"):
        sent = f"PW status {row['pw_write_status']}" if write == "update_work_order" else "the close"
        return Drift(kind, f"{detail}: {sent} was pushed after the warehouse last read this work order",
                     "none: the next sync reads it back", expected=True)
    if write and state in PENDING_STATES:
        return Drift(kind, f"{detail}: the push owes PW this {write.replace('_', ' ')} (ledger: {state})",
                     SENDING_ON, expected=True)
    if state == "dead":
        return Drift(kind, f"{detail}: the push's {write.replace('_', ' ')} failed for good",
                     "fix the cause and replay it (`greenlight dead-letters list`)")
    if _calls_for_attention(rules, sf_status, row.get("sf_status_category")):
        return Drift(kind, f"{detail}: the SF job was cancelled",
                     "a person decides in PropertyWare (ledger: attention)")
    return Drift(kind, f"{detail}: no PW write is planned for it",
                 "run a sync: the plan writes the PW status the job's status calls for")


def _calls_for_attention(rules: StatusRules, sf_status: str, category: str | None) -> bool:
    try:
        update = rules.pw_update_for_sf(sf_status, category)
    except UnmappedStatusError:
        return False
    return update is not None and update.action is PwAction.ATTENTION


def drift_reasons(row: Mapping[str, Any], rules: StatusRules = DEFAULT_STATUS_RULES) -> list[Drift]:
    """Why a linked PW work order and SF job disagree (empty when they agree), each with what to do.

    Categories come from ``dim_status``; two open statuses agree when the PW status is what the
    push makes of the SF one (`StatusRules.pw_follows_sf`).
    """
    if not row["is_known_work_order"]:
        return [Drift("unknown PW work order", "SF job is stamped with a PW work order the warehouse does not know",
                      "correct or remove the PW number on the SF job")]
    if row.get("stamp_problem"):  # not our link: the push holds it, so its statuses are not ours to compare
        return [Drift("untrusted stamp", f"SF job {row['job_id']} claims this work order but {row['stamp_problem']}",
                      f"correct or remove the PW stamp (PO number, custom field, check number) on SF job "
                      f"{row['job_id']}; the sync holds the work order until then")]
    reasons = []
    if row["pw_deleted"]:
        reasons.append(Drift("deleted in PW", "PW work order was deleted but its SF job still exists",
                             "cancel the job in ServiceFusion"))
    if row["jobs_for_work_order"] > 1:
        reasons.append(Drift("several SF jobs", f"{row['jobs_for_work_order']} SF jobs for one PW work order "
                                                "(must be 1)", "keep one job and cancel the others in ServiceFusion"))
    for side, category, status in (("PW", row["pw_category"], row["pw_status"]),
                                   ("SF", row["sf_category"], row["sf_status"])):
        if category is None:
            reasons.append(Drift(f"unmapped {side} status", f"{side} status {status!r} is not mapped in dim_status",
                                 "add it to dbt_warehouse/seeds/status_mapping.csv"))
    if (status_drift := _status_drift(row, rules)) is not None:
        reasons.append(status_drift)
    return reasons


def find_drift(engine: Engine) -> list[dict[str, Any]]:
    """Every linked record whose PW and SF sides disagree, with why and what to do (empty before the marts exist)."""
    try:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(text(DRIFT_SQL))]
    except ProgrammingError:
        return []
    return [{"work_order_id": row["work_order_id"], "work_order_number": row["work_order_number"],
             "sf_job_id": row["job_id"], "pw_status": row["pw_status"], "sf_status": row["sf_status"],
             "kind": "; ".join(r.kind for r in reasons), "why": "; ".join(r.detail for r in reasons),
             "action": "; ".join(r.action for r in reasons), "expected": all(r.expected for r in reasons)}
            for row in rows if (reasons := drift_reasons(row))]


def drift_counts(drift: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Records per kind of disagreement, most frequent first."""
    counts: dict[str, int] = {}
    for row in drift:
        for kind in row["kind"].split("; "):
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


_DRIFT_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("work_order_id", "int", description="PW work order id"),
    dg.TableColumn("work_order_number", "int", description="the number PW users see"),
    dg.TableColumn("sf_job_id", "int"),
    dg.TableColumn("pw_status", "string"),
    dg.TableColumn("sf_status", "string"),
    dg.TableColumn("kind", "string", description="the kind(s) of disagreement"),
    dg.TableColumn("why", "string", description="what disagrees, per dim_status and the ledger"),
    dg.TableColumn("action", "string", description="what the operator should do"),
    dg.TableColumn("expected", "bool", description="the sync already handles it (pushed, or still to send)"),
])


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f} %" if percent else f"{value:g}"


def report_markdown(current: RunMeasures, history: Sequence[RunMeasures], drift: Sequence[Mapping[str, Any]],
                    chart_png: bytes) -> str:
    """The report: this run against the history, the chart, and the drift summary."""
    lines = [f"## Sync report, run `{current.run_id[:8]}` ({current.measured_at:%Y-%m-%d %H:%M} UTC)", "",
             f"| measure | this run | average of the last {len(history)} |", "|---|---:|---:|"]
    for name, label in MEASURES.items():
        known = [getattr(m, name) for m in history if getattr(m, name) is not None]
        average = sum(known) / len(known) if known else None
        percent = name == "mapping_coverage"
        lines.append(f"| {label} | {_cell(getattr(current, name), percent)} | {_cell(average, percent)} |")
    lines += ["", f"![last {len(history)} runs](data:image/png;base64,{base64.b64encode(chart_png).decode()})", ""]
    unexpected = [row for row in drift if not row["expected"]]
    if not unexpected:
        lines.append("### No drift: every linked PW work order and SF job agree"
                     + (f" (or the push handles it: {len(drift)} record(s) pushed or still to send, in the "
                        "**drift** table below)." if drift else "."))
    else:
        lines += [f"### Drift: {len(unexpected)} record(s) where PW and SF disagree", "",
                  "| why | records |", "|---|---:|"]
        lines += [f"| {escape_markdown(kind)} | {count} |" for kind, count in drift_counts(unexpected).items()]
        lines += ["", "Each record is in the **drift** table below, with what to do"
                  + (f"; {len(drift) - len(unexpected)} more the push handles (column expected)." if
                     len(drift) > len(unexpected) else ".")]
    return "\n".join(lines)


def _run_started(context: dg.AssetExecutionContext) -> datetime:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)


@dg.asset(
    key=SYNC_REPORT,
    deps=[SF_CUSTOMERS, SF_JOBS, PW_WORK_ORDERS],
    group_name="reconcile",
    kinds={"python", "postgres"},
    owners=["team:greenlight"],
    description="After each sync: a Markdown report with a chart of the last 30 runs (records synced, SF jobs "
                "created, errors, open dead letters, customer mapping coverage, duration) and a drift table of "
                "the PW work orders and SF jobs that disagree, with why (e.g. closed in PW but open in SF). The "
                "run's measures are kept in ops.sync_runs.stats.sync_report.",
)
def sync_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                sync_flags: SyncFlagsResource) -> dg.MaterializeResult:
    began = time.monotonic()
    engine = warehouse.get_engine()
    current = measure_run(engine, context.run.run_id, _run_started(context), datetime.now(UTC))
    kind = run_kind(context.run.tags)
    record_run(engine, context.run.run_id, kind=kind, flags=sync_flags.resolve(engine),
               stats={"sync_report": current.as_stats()})
    finish_run(engine, context.run.run_id, status="succeeded", kind=kind)  # the report is the cycle's last step
    history = run_history(engine)
    drift = find_drift(engine)
    metadata: dict[str, Any] = {
        "report": dg.MetadataValue.md(report_markdown(current, history, drift, render_chart(history))),
        "drift": dg.MetadataValue.table(records=[dg.TableRecord(row) for row in drift[:DRIFT_ROWS]],
                                        schema=_DRIFT_SCHEMA),
        "drift_records": len(drift),
        "records_synced": current.records_synced,
        "jobs_created": current.jobs_created,
        "errors": current.errors,
        "dead_letters": current.dead_letters,
        "run_duration_seconds": current.duration_seconds,
        "runs_in_chart": len(history),
        "duration_seconds": round(time.monotonic() - began, 3),
    }
    if current.mapping_coverage is not None:
        metadata["mapping_coverage"] = dg.MetadataValue.float(current.mapping_coverage)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=SYNC_REPORT, name="pw_and_sf_agree",
                description="Warns while linked PW work orders and SF jobs disagree in a way the push does not "
                            "handle (closed on one side and open on the other, a PW status behind its job's with no "
                            "write planned, unmapped statuses, deleted work orders, several jobs): the report's "
                            "drift table lists each one with why and what to do. A difference the push has sent or "
                            "still owes is listed as expected and does not warn.")
def pw_and_sf_agree(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    drift = find_drift(warehouse.get_engine())
    unexpected = [row for row in drift if not row["expected"]]
    examples = "\n".join(f"- work order {row['work_order_id']} / SF job {row['sf_job_id']}: "
                         f"{escape_markdown(row['why'])} - {escape_markdown(row['action'])}" for row in unexpected[:20])
    return dg.AssetCheckResult(passed=not unexpected, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"records": len(unexpected),
                                         "handled_by_the_push": len(drift) - len(unexpected),
                                         "by_kind": dg.MetadataValue.json(drift_counts(unexpected)),
                                         "examples": dg.MetadataValue.md(examples or "none")})


assets = [sync_report]
asset_checks = [pw_and_sf_agree]
