"""The push flags: what a run may do, read from the environment and recorded with the run.

Flags are read at the start of every run (never cached at import), so an operator changes
behaviour by changing an environment variable or a Launchpad override - no code change, no
redeploy. The defaults are the safe ones: a fresh deployment plans but sends nothing.

An invalid value is a ValueError naming the variable, never a silent default: a typo in
``GREENLIGHT_DRY_RUN`` must not turn a dry run into a real one, and an empty
``GREENLIGHT_PW_OPEN_STATUSES`` must not silently push nothing (the old system's open list
was commented out and nobody noticed), nor leave out a status the push itself writes to PW.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from greenlight_dagster.core.statuses import DEFAULT_OPEN_STATUSES, DEFAULT_STATUS_RULES, normalize_status

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})
DEFAULT_SAFE_MODE_MAX_CREATES = 50

#: Field -> environment variable (docs/operations.md §1; GREENLIGHT_SAFE_MODE_MAX_CREATES is ours).
ENV_VARS = {
    "dry_run": "GREENLIGHT_DRY_RUN",
    "enable_service_fusion": "GREENLIGHT_ENABLE_SERVICE_FUSION",
    "safe_mode": "GREENLIGHT_SAFE_MODE",
    "safe_mode_max_creates": "GREENLIGHT_SAFE_MODE_MAX_CREATES",
    "pw_verify_strict": "GREENLIGHT_PW_VERIFY_STRICT",
    "pw_open_statuses": "GREENLIGHT_PW_OPEN_STATUSES",
}


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be a boolean (true/false, yes/no, on/off, 1/0), got {raw!r}")


def parse_count(name: str, raw: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name} must be a non-negative integer, got {raw!r}")
    return int(text)


def parse_status_list(name: str, raw: str | Iterable[str]) -> tuple[str, ...]:
    """A comma list (or sequence) of statuses, trimmed, de-duplicated by normalised key, non-empty."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    seen: dict[str, str] = {}
    for item in items:
        key = normalize_status(item)
        if key:
            seen.setdefault(key, item.strip())
    if not seen:
        raise ValueError(f"{name} must list at least one status, got {raw!r}")
    return tuple(seen.values())


@dataclass(frozen=True)
class SyncFlags:
    """The flags of docs/architecture.md §6. ``safe_mode_max_creates`` is the per-run create cap of safe mode."""

    dry_run: bool = True
    enable_service_fusion: bool = False
    safe_mode: bool = True
    safe_mode_max_creates: int = DEFAULT_SAFE_MODE_MAX_CREATES
    pw_verify_strict: bool = True
    pw_open_statuses: tuple[str, ...] = DEFAULT_OPEN_STATUSES

    def __post_init__(self) -> None:
        for name in ("dry_run", "enable_service_fusion", "safe_mode", "pw_verify_strict"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if isinstance(self.safe_mode_max_creates, bool) or self.safe_mode_max_creates < 0:
            raise ValueError("safe_mode_max_creates must be >= 0")
        object.__setattr__(self, "pw_open_statuses", parse_status_list("pw_open_statuses", self.pw_open_statuses))
        if gaps := DEFAULT_STATUS_RULES.open_list_gaps(self.pw_open_statuses):
            raise ValueError(f"pw_open_statuses must include the statuses the push writes to PropertyWare work "
                             f"orders (missing: {', '.join(gaps)}): a work order the push moves there must stay open")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SyncFlags:
        """Flags from environment variables; unset or blank variables keep their defaults."""
        values: dict[str, Any] = {}
        for field_name, var in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            if field_name == "pw_open_statuses":
                values[field_name] = parse_status_list(var, raw)
            elif field_name == "safe_mode_max_creates":
                values[field_name] = parse_count(var, raw)
            else:
                values[field_name] = parse_bool(var, raw)
        try:
            return cls(**values)
        except ValueError as exc:  # a rule across fields: name the variables that were set
            raise ValueError(f"{', '.join(ENV_VARS[f] for f in values)}: {exc}") from exc

    def may_send(self, target: str) -> bool:
        """Whether writes to ``target`` ("sf" or "pw") are actually sent in this run."""
        if self.dry_run:
            return False
        return target != "sf" or self.enable_service_fusion

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values for run metadata and the ``greenlight flags`` command."""
        return {
            "dry_run": self.dry_run,
            "enable_service_fusion": self.enable_service_fusion,
            "safe_mode": self.safe_mode,
            "safe_mode_max_creates": self.safe_mode_max_creates,
            "pw_verify_strict": self.pw_verify_strict,
            "pw_open_statuses": list(self.pw_open_statuses),
        }
