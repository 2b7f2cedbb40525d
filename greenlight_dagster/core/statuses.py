"""Status vocabulary: canonical statuses, the open list, and the status rules of the push.

The old sync compared raw status strings, let an unknown status fall through as "closed", and
lost its open-status list to a commented-out line. Here:

* every comparison goes through `normalize_status`, so spelling, case and punctuation never
  decide whether a work order is pushed;
* `StatusMap` (built from ``dim_status`` rows) raises `UnmappedStatusError` for a status it
  does not know, instead of guessing a category;
* the open list and both push directions are *data* (`DEFAULT_OPEN_STATUSES`,
  `DEFAULT_PW_TO_SF`, `DEFAULT_SF_TO_PW`, `DEFAULT_SF_CATEGORY_TO_PW`) that callers can replace
  with an operator-maintained table, with no code change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from greenlight_dagster.core.text import normalize_text

SYSTEMS = ("pw", "sf")

#: The open list: work orders in these statuses get an SF job. The old system's 14 open statuses, plus
#: "in progress", which the push itself writes to PW while a job is under way (`DEFAULT_SF_TO_PW`).
#: A status our own push writes must be open in all our rules (`StatusRules.open_list_gaps`): the
#: status map calls "In Progress" open and `DEFAULT_PW_TO_SF` creates a "Started" job from it, yet
#: the open list held such work orders back as "not in the open list".
DEFAULT_OPEN_STATUSES: tuple[str, ...] = (
    "unscheduled", "scheduled", "scheduled outside sf", "dispatched", "delayed", "on the way", "on site",
    "started", "paused", "resumed", "partially completed", "open", "wo received", "awaiting parts", "in progress",
)


def normalize_status(status: str) -> str:
    """Comparison key of a status: case-, space-, punctuation- and accent-insensitive."""
    return normalize_text(status)


def in_open_list(status: str, open_statuses: Iterable[str] = DEFAULT_OPEN_STATUSES) -> bool:
    """Whether ``status`` is one of ``open_statuses`` (the ``pw_open_statuses`` flag)."""
    key = normalize_status(status)
    return bool(key) and key in {normalize_status(s) for s in open_statuses}


class UnmappedStatusError(LookupError):
    """A status with no mapping: a data problem to fix in the mapping table, never a default."""

    def __init__(self, system: str, status: str, what: str = "canonical status") -> None:
        super().__init__(f"{system} status {status!r} has no {what} mapping")
        self.system = system
        self.status = status


class StatusCategory(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class StatusRow:
    """One ``dim_status`` row: a source status and what it means."""

    system: str
    source_status: str
    canonical_status: str
    category: StatusCategory

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f"status row system must be one of {SYSTEMS}, got {self.system!r}")
        if not normalize_status(self.source_status):
            raise ValueError("status row source_status is empty")
        if not self.canonical_status.strip():
            raise ValueError(f"status row {self.source_status!r} has an empty canonical_status")
        object.__setattr__(self, "category", StatusCategory(self.category))


class StatusMap:
    """Source status -> (canonical status, open/closed category), per system.

    Two rows that normalise to the same (system, status) must agree; a conflict is a
    ValueError at construction, because picking one silently is how a status gets misfiled.
    """

    def __init__(self, rows: Iterable[StatusRow]) -> None:
        self._rows: dict[tuple[str, str], StatusRow] = {}
        for row in rows:
            key = (row.system, normalize_status(row.source_status))
            known = self._rows.get(key)
            if known is not None and (known.canonical_status, known.category) != (row.canonical_status, row.category):
                raise ValueError(
                    f"conflicting rows for {row.system} status {row.source_status!r}: "
                    f"{known.canonical_status}/{known.category} vs {row.canonical_status}/{row.category}"
                )
            self._rows.setdefault(key, row)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> StatusMap:
        """Build from ``dim_status``-shaped mappings (``system`` or ``source_system`` column)."""
        return cls(
            StatusRow(
                system=str(row.get("system", row.get("source_system", ""))).strip().lower(),
                source_status=str(row["source_status"]),
                canonical_status=str(row["canonical_status"]),
                category=StatusCategory(str(row["category"]).strip().lower()),
            )
            for row in rows
        )

    def _row(self, system: str, status: str) -> StatusRow:
        row = self._rows.get((system, normalize_status(status)))
        if row is None:
            raise UnmappedStatusError(system, status)
        return row

    def canonical(self, system: str, status: str) -> str:
        return self._row(system, status).canonical_status

    def category(self, system: str, status: str) -> StatusCategory:
        return self._row(system, status).category

    def is_open(self, system: str, status: str) -> bool:
        return self.category(system, status) is StatusCategory.OPEN

    def unmapped(self, system: str, statuses: Iterable[str]) -> list[str]:
        """The statuses among ``statuses`` that have no row, sorted: the input of a data check."""
        return sorted({s for s in statuses if (system, normalize_status(s)) not in self._rows})


class PwAction(StrEnum):
    """What the push does to a PW work order when its SF job reaches a status."""

    NONE = "none"
    UPDATE_STATUS = "update_status"
    CLOSE = "close"
    ATTENTION = "attention"


@dataclass(frozen=True)
class PwUpdate:
    action: PwAction
    pw_status: str | None = None

    def __post_init__(self) -> None:
        if (self.action is PwAction.UPDATE_STATUS) != bool(self.pw_status):
            raise ValueError("a PW status is required for update_status and only for it")


#: PW status of a work order -> SF status name its new job gets. "Scheduled Outside SF" maps to
#: Unscheduled because the SF job has no appointment; waiting states ("Awaiting Parts",
#: "On Hold") map to Paused, the SF state for work started but stopped.
DEFAULT_PW_TO_SF: tuple[tuple[str, str], ...] = (
    ("Open", "Unscheduled"), ("New", "Unscheduled"), ("WO Received", "Unscheduled"),
    ("Unscheduled", "Unscheduled"), ("Scheduled Outside SF", "Unscheduled"),
    ("Scheduled", "Scheduled"), ("Dispatched", "Dispatched"), ("Delayed", "Delayed"),
    ("On The Way", "On The Way"), ("On Site", "On Site"), ("In Progress", "Started"), ("Started", "Started"),
    ("Resumed", "Resumed"), ("Awaiting Parts", "Paused"), ("On Hold", "Paused"), ("Paused", "Paused"),
    ("Partially Completed", "Partially Completed"),
)

#: SF job status -> (action, PW status). Unscheduled changes nothing (the work order is already
#: open); a cancelled job needs a person (the work may go to another vendor), so it is flagged
#: for attention rather than closing the work order.
DEFAULT_SF_TO_PW: tuple[tuple[str, PwAction, str | None], ...] = (
    ("Unscheduled", PwAction.NONE, None),
    ("Scheduled", PwAction.UPDATE_STATUS, "Scheduled"), ("Dispatched", PwAction.UPDATE_STATUS, "Scheduled"),
    ("Delayed", PwAction.UPDATE_STATUS, "In Progress"), ("On The Way", PwAction.UPDATE_STATUS, "In Progress"),
    ("On Site", PwAction.UPDATE_STATUS, "In Progress"), ("Started", PwAction.UPDATE_STATUS, "In Progress"),
    ("Paused", PwAction.UPDATE_STATUS, "In Progress"), ("Resumed", PwAction.UPDATE_STATUS, "In Progress"),
    ("Partially Completed", PwAction.UPDATE_STATUS, "In Progress"),
    ("Completed", PwAction.CLOSE, None), ("Invoiced", PwAction.CLOSE, None), ("Paid In Full", PwAction.CLOSE, None),
    ("Cancelled", PwAction.ATTENTION, None), ("Canceled", PwAction.ATTENTION, None),
)

#: Fallback by SF status *category* for account-specific (custom or renamed) statuses.
DEFAULT_SF_CATEGORY_TO_PW: tuple[tuple[str, PwAction, str | None], ...] = (
    ("Open Jobs", PwAction.NONE, None),
    ("Open Jobs That Are In Progress", PwAction.UPDATE_STATUS, "In Progress"),
    ("Closed Jobs", PwAction.CLOSE, None),
)

#: PW statuses after which nothing more is pushed to the work order.
DEFAULT_PW_TERMINAL: tuple[str, ...] = ("Completed", "Closed", "Cancelled", "Canceled", "Void")


def _keyed_updates(rows: Iterable[tuple[str, PwAction, str | None]]) -> dict[str, PwUpdate]:
    return {normalize_status(name): PwUpdate(PwAction(action), pw_status) for name, action, pw_status in rows}


@dataclass(frozen=True)
class StatusRules:
    """Both directions of the push, keyed by normalised status; build with `from_rows`."""

    pw_to_sf: Mapping[str, str]
    sf_to_pw: Mapping[str, PwUpdate]
    sf_category_to_pw: Mapping[str, PwUpdate]
    pw_terminal: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_rows(
        cls,
        pw_to_sf: Iterable[tuple[str, str]] = DEFAULT_PW_TO_SF,
        sf_to_pw: Iterable[tuple[str, PwAction, str | None]] = DEFAULT_SF_TO_PW,
        sf_category_to_pw: Iterable[tuple[str, PwAction, str | None]] = DEFAULT_SF_CATEGORY_TO_PW,
        pw_terminal: Iterable[str] = DEFAULT_PW_TERMINAL,
    ) -> StatusRules:
        return cls(
            pw_to_sf={normalize_status(pw): sf for pw, sf in pw_to_sf},
            sf_to_pw=_keyed_updates(sf_to_pw),
            sf_category_to_pw=_keyed_updates(sf_category_to_pw),
            pw_terminal=frozenset(normalize_status(s) for s in pw_terminal),
        )

    def sf_status_for_pw(self, pw_status: str) -> str:
        """SF status name a new job gets for a work order in ``pw_status``."""
        try:
            return self.pw_to_sf[normalize_status(pw_status)]
        except KeyError:
            raise UnmappedStatusError("pw", pw_status, "ServiceFusion job status") from None

    def pw_update_for_sf(self, sf_status: str, category: str | None = None) -> PwUpdate | None:
        """What the PW work order should become when its job reaches ``sf_status``.

        The status name decides first; the SF status category (from ``/job-statuses``) covers
        custom statuses. None means "nothing to do"; a status known by neither is an error.
        """
        update = self.sf_to_pw.get(normalize_status(sf_status))
        if update is None and category is not None:
            update = self.sf_category_to_pw.get(normalize_status(category))
        if update is None:
            raise UnmappedStatusError("sf", sf_status, "PropertyWare action")
        return None if update.action is PwAction.NONE else update

    def is_pw_terminal(self, pw_status: str) -> bool:
        return normalize_status(pw_status) in self.pw_terminal

    def pw_statuses_written(self) -> list[str]:
        """The PW statuses the push writes (its status updates), sorted."""
        updates = (*self.sf_to_pw.values(), *self.sf_category_to_pw.values())
        return sorted({u.pw_status for u in updates if u.action is PwAction.UPDATE_STATUS and u.pw_status})

    def open_list_gaps(self, open_statuses: Iterable[str]) -> list[str]:
        """Statuses the push writes that ``open_statuses`` lacks: the two would disagree about our own writes."""
        return [s for s in self.pw_statuses_written() if not in_open_list(s, open_statuses)]

    def echoes(self, pw_status: str, sf_status: str) -> bool:
        """The job is in exactly the status the work order's own status gave it: SF has nothing new to say.

        Without this, a work order "Awaiting Parts" (job created "Paused") would be rewritten to
        "In Progress" by the next sync although nobody touched the job.
        """
        try:
            return normalize_status(self.sf_status_for_pw(pw_status)) == normalize_status(sf_status)
        except UnmappedStatusError:
            return False

    def pw_follows_sf(self, pw_status: str, sf_status: str, category: str | None = None) -> bool:
        """Whether the PW status is what the push makes of the job's SF status: nothing left to write.

        PW "In Progress" follows SF "On Site" (the push wrote it); PW "Open" follows SF
        "Unscheduled" (the push leaves it); PW "Awaiting Parts" follows the "Paused" job it was
        created as. A close or an attention flag is never followed by an open PW status.
        """
        try:
            update = self.pw_update_for_sf(sf_status, category)
        except UnmappedStatusError:
            return False
        if update is None:
            return True
        if update.action is not PwAction.UPDATE_STATUS:
            return False
        return normalize_status(pw_status) == normalize_status(update.pw_status or "") or self.echoes(pw_status,
                                                                                                    sf_status)

    def missing_sf_statuses(self, available: Iterable[str]) -> list[str]:
        """SF status names the rules assign that the account does not have (a config check)."""
        known = {normalize_status(name) for name in available}
        return sorted({sf for sf in self.pw_to_sf.values() if normalize_status(sf) not in known})


DEFAULT_STATUS_RULES = StatusRules.from_rows()


def sf_status_for_pw(pw_status: str, rules: StatusRules = DEFAULT_STATUS_RULES) -> str:
    return rules.sf_status_for_pw(pw_status)


def pw_update_for_sf(
    sf_status: str, category: str | None = None, rules: StatusRules = DEFAULT_STATUS_RULES
) -> PwUpdate | None:
    return rules.pw_update_for_sf(sf_status, category)
