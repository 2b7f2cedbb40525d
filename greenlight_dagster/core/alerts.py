"""What operators are told, and when (decision 0015): the messages and their settings, no I/O.

The old system published to an SNS topic; recording in ``ops.*`` alone means nobody hears of a
problem until they look. Four events notify: a failed run, new dead letters, new duplicate-job
detections, and held-back work that needs a person rising past a threshold. Each message says
what happened and what to do. Settings come from the deployment's environment only (never run
config: a Launchpad user must not redirect alerts), and everything is off until a topic or an
address is set. `clients.notifier` delivers; the Dagster wiring is in `lib.alerts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from greenlight_dagster.core.plan import HeldBack, HoldReason

SNS_TOPIC_ENV = "GREENLIGHT_ALERTS_SNS_TOPIC_ARN"
EMAIL_TO_ENV = "GREENLIGHT_ALERTS_EMAIL_TO"
EMAIL_FROM_ENV = "GREENLIGHT_ALERTS_EMAIL_FROM"
SMTP_HOST_ENV = "GREENLIGHT_SMTP_HOST"
SMTP_PORT_ENV = "GREENLIGHT_SMTP_PORT"
SMTP_USER_ENV = "GREENLIGHT_SMTP_USER"
SMTP_PASSWORD_ENV = "GREENLIGHT_SMTP_PASSWORD"
SMTP_STARTTLS_ENV = "GREENLIGHT_SMTP_STARTTLS"
HELD_BACK_THRESHOLD_ENV = "GREENLIGHT_ALERTS_HELD_BACK_THRESHOLD"
#: Every variable of the alert settings (the SSM loader may set them too).
ALERT_VARIABLES = (SNS_TOPIC_ENV, EMAIL_TO_ENV, EMAIL_FROM_ENV, SMTP_HOST_ENV, SMTP_PORT_ENV, SMTP_USER_ENV,
                   SMTP_PASSWORD_ENV, SMTP_STARTTLS_ENV, HELD_BACK_THRESHOLD_ENV)
DEFAULT_HELD_BACK_THRESHOLD = 50
#: SNS refuses a subject longer than this.
SUBJECT_LIMIT = 100
#: Listed examples per message; the rest are counted.
EXAMPLES = 10

#: Held-back reasons that wait for a person (data to fix, a decision to take). Not counted: records
#: that are simply done, in flight, closed, or waiting for the next stage of the same run.
NEEDS_A_PERSON = frozenset({
    HoldReason.UNIT_ROUTING, HoldReason.UNMAPPED_STATUS, HoldReason.UNMAPPED_CUSTOMER, HoldReason.PAYLOAD_ERROR,
    HoldReason.SAFE_MODE_VALIDATION, HoldReason.SAFE_MODE_CAP, HoldReason.DUPLICATE, HoldReason.DUPLICATE_CANDIDATE,
    HoldReason.DEAD_LETTER, HoldReason.AWAITING_ATTENTION,
})
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class AlertKind(StrEnum):
    RUN_FAILED = "run_failed"
    DEAD_LETTERS = "dead_letters"
    DUPLICATE_JOBS = "duplicate_jobs"
    HELD_BACK = "held_back"


@dataclass(frozen=True)
class Alert:
    """One notification: a one-line subject and a plain-text body (what happened, what to do)."""

    kind: AlertKind
    subject: str
    body: str


class AlertSettingsError(ValueError):
    """An alert variable holds something unusable; the message names it."""


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go. Nothing set: nowhere (alerts are off)."""

    sns_topic_arn: str = ""
    email_to: tuple[str, ...] = ()
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    held_back_threshold: int = DEFAULT_HELD_BACK_THRESHOLD

    @property
    def enabled(self) -> bool:
        return bool(self.sns_topic_arn or self.email_to)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        def text(name: str) -> str:
            return env.get(name, "").strip()

        def integer(name: str, default: int) -> int:
            value = text(name)
            if not value:
                return default
            if not value.isdigit():
                raise AlertSettingsError(f"{name} must be a whole number, got {value!r}")
            return int(value)

        starttls = text(SMTP_STARTTLS_ENV).lower() or "true"
        if starttls not in _TRUE + _FALSE:
            raise AlertSettingsError(f"{SMTP_STARTTLS_ENV} must be true or false, got {starttls!r}")
        topic = text(SNS_TOPIC_ENV)
        if topic and not topic.startswith("arn:aws"):
            raise AlertSettingsError(f"{SNS_TOPIC_ENV} must be an SNS topic ARN (arn:aws:sns:...), got {topic!r}")
        to = tuple(address.strip() for address in text(EMAIL_TO_ENV).split(",") if address.strip())
        if to and not (text(SMTP_HOST_ENV) and text(EMAIL_FROM_ENV)):
            raise AlertSettingsError(f"{EMAIL_TO_ENV} is set: set {SMTP_HOST_ENV} and {EMAIL_FROM_ENV} too")
        return cls(sns_topic_arn=topic, email_to=to, email_from=text(EMAIL_FROM_ENV), smtp_host=text(SMTP_HOST_ENV),
                   smtp_port=integer(SMTP_PORT_ENV, 587), smtp_user=text(SMTP_USER_ENV),
                   smtp_password=env.get(SMTP_PASSWORD_ENV, ""), smtp_starttls=starttls in _TRUE,
                   held_back_threshold=integer(HELD_BACK_THRESHOLD_ENV, DEFAULT_HELD_BACK_THRESHOLD))


def waiting_for_a_person(held: Iterable[HeldBack]) -> dict[str, int]:
    """Held-back items that need a person, counted by reason."""
    counts: dict[str, int] = {}
    for item in held:
        if item.reason in NEEDS_A_PERSON:
            counts[item.reason.value] = counts.get(item.reason.value, 0) + 1
    return counts


def _subject(text: str) -> str:
    """One printable line within SNS's limit."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3] + "..."


def _listing(items: Sequence[str]) -> str:
    shown = [f"  - {' '.join(item.split())[:300]}" for item in items[:EXAMPLES]]
    more = [f"  ... and {len(items) - EXAMPLES} more"] if len(items) > EXAMPLES else []
    return "\n".join(shown + more)


def run_failed(job: str, run_id: str, reason: str, failed_steps: Sequence[str]) -> Alert:
    steps = ", ".join(failed_steps) or "none recorded"
    body = (f"What happened: the Dagster run {run_id} of job {job} failed.\n"
            f"Failed steps: {steps}\nError: {' '.join(reason.split())[:1000]}\n\n"
            "What to do: open the run in the Dagster UI (Runs -> " + run_id[:8] + ") and read the failed step's "
            "error. An outage of PropertyWare or ServiceFusion needs nothing: the next scheduled sync resumes, and "
            "writes in flight are looked up before anything is resent. Otherwise fix the cause, then re-execute "
            "the run from failure. `greenlight status` shows the ledger and dead letters.")
    return Alert(AlertKind.RUN_FAILED, _subject(f"GreenLight: run of {job} failed ({steps})"), body)


def new_dead_letters(step: str, run_id: str, errors: Sequence[str], count: int) -> Alert | None:
    if count <= 0:
        return None
    body = (f"What happened: {count} write(s) of {step} in run {run_id} failed for good and were moved to dead "
            f"letters; nothing more is sent for them.\n{_listing(errors)}\n\n"
            "What to do: `greenlight dead-letters list` shows each with its reason (validation errors name the "
            "field). Fix the data in PropertyWare or ServiceFusion, then `greenlight dead-letters replay ID` (or "
            "the replay_dead_letters job): each write is looked up on its target before it is resent.")
    return Alert(AlertKind.DEAD_LETTERS, _subject(f"GreenLight: {count} new dead letter(s) in {step}"), body)


def duplicate_jobs(run_id: str, detections: Sequence[str]) -> Alert | None:
    if not detections:
        return None
    body = (f"What happened: run {run_id} found {len(detections)} PropertyWare work order(s) that already look "
            f"like a ServiceFusion job, and held their job creates back instead of sending them.\n"
            f"{_listing(detections)}\n\n"
            "What to do: compare each work order with the SF job named (ops.duplicate_detection_log has the score "
            "and reason). A true duplicate needs nothing more. If they are different jobs, change the work "
            "order's description or resolve the held item, and the next sync creates it.")
    return Alert(AlertKind.DUPLICATE_JOBS,
                 _subject(f"GreenLight: {len(detections)} possible duplicate SF job(s) held back"), body)


def held_back(run_id: str, count: int, previous: int | None, threshold: int,
              by_reason: Mapping[str, int]) -> Alert | None:
    """An alert when the work waiting for a person rises to ``threshold`` or beyond (not on every run
    while it stays there: ``previous`` is the last plan's count)."""
    if threshold <= 0 or count < threshold or (previous is not None and previous >= threshold):
        return None
    reasons = [f"{reason}: {n}" for reason, n in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))]
    body = (f"What happened: the plan of run {run_id} holds back {count} write(s) that wait for a person "
            f"(threshold {threshold}; previously {previous if previous is not None else 'unknown'}).\n"
            f"{_listing(reasons)}\n\n"
            "What to do: `greenlight preview` lists every held item with its reason. Typical fixes: map the "
            "status or customer, correct the unit or address in PropertyWare, or raise the safe-mode cap "
            "(`greenlight flags set safe_mode_max_creates N`) once the preview looks right.")
    return Alert(AlertKind.HELD_BACK, _subject(f"GreenLight: {count} writes held back for a person"), body)
