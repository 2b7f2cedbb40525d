"""Where a linked PW work order and SF job disagree, why, and what the operator should do.

Pure rules over one row of the warehouse's link of work orders to jobs (`warehouse.drift`): the
report's drift table and its ``pw_and_sf_agree`` check both come from them, so the two never
tell an operator different stories.

Statuses agree when the PW status is what the push makes of the SF job's status
(`StatusRules.pw_follows_sf`): PW "In Progress" against SF "On Site" is the push's own work, not
drift. A status difference the ledger already handles is *expected*: a write the push sent after
the warehouse last read that work order (the marts were built before the push, so the report sees
PW as it was; the next sync reads the change back), or one still to be sent (planned, retrying -
a dry run sends nothing). Expected rows stay in the table, saying so; only the others warn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from greenlight_dagster.core.statuses import DEFAULT_STATUS_RULES, PwAction, StatusRules, UnmappedStatusError

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
    if write and state == "dead":
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


def drift_records(links: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every linked record whose PW and SF sides disagree, one flat record each: the reasons joined,
    and ``expected`` only when the push handles all of them."""
    return [{"work_order_id": row["work_order_id"], "work_order_number": row["work_order_number"],
             "sf_job_id": row["job_id"], "pw_status": row["pw_status"], "sf_status": row["sf_status"],
             "kind": "; ".join(r.kind for r in reasons), "why": "; ".join(r.detail for r in reasons),
             "action": "; ".join(r.action for r in reasons), "expected": all(r.expected for r in reasons)}
            for row in links if (reasons := drift_reasons(row))]


def unexpected(drift: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The drift records the push does not handle: the ones an operator must act on."""
    return [row for row in drift if not row["expected"]]


def drift_counts(drift: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Records per kind of disagreement, most frequent first."""
    counts: dict[str, int] = {}
    for row in drift:
        for kind in row["kind"].split("; "):
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
