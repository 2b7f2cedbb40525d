"""Seeded fault injection for the sandbox servers (docs/operations.md §4 ``POST /faults``).

A rule names a server (``pw``/``sf``), an operation (SOAP operation name, or REST
``"METHOD /path-template"``, or ``"*"``), a kind and a rate. Each rule draws from its own
``random.Random(seed)``, so the same sequence of requests meets the same faults: a chaos
run is reproducible.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("latency", "reset", "error", "rate_limit", "hang", "commit_then_drop", "malformed_success")
SERVERS = ("pw", "sf")


@dataclass
class FaultRule:
    server: str
    operation: str
    kind: str
    rate: float = 1.0
    ms: int = 0
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.server not in SERVERS:
            raise ValueError(f"fault server must be one of {SERVERS}, got {self.server!r}")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError(f"fault rate must be within 0.0-1.0, got {self.rate!r}")
        self.rate = float(self.rate)
        self.ms = int(self.ms)
        self.rng = random.Random(self.seed)

    def matches(self, server: str, operation: str) -> bool:
        return self.server == server and self.operation in ("*", operation)

    def as_dict(self) -> dict[str, Any]:
        return {"server": self.server, "operation": self.operation, "kind": self.kind,
                "rate": self.rate, "ms": self.ms, "seed": self.seed}


@dataclass(frozen=True)
class Fault:
    """A fault that fires on one request. ``ms`` is the latency/hang duration."""

    kind: str
    ms: int = 0


class FaultInjector:
    """Holds the active rules and decides, per request, which faults fire."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.fired: dict[str, int] = {}

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = FaultRule(
            server=str(spec.get("server", "")),
            operation=str(spec.get("operation", "*")),
            kind=str(spec.get("kind", "")),
            rate=spec.get("rate", 1.0),
            ms=spec.get("ms", 0),
            seed=int(spec.get("seed", 0)),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def decide(self, server: str, operation: str) -> list[Fault]:
        """Faults firing for this request, in rule order. Latency combines with any other kind."""
        fired: list[Fault] = []
        with self._lock:
            for rule in self._rules:
                if rule.matches(server, operation) and rule.rng.random() < rule.rate:
                    fired.append(Fault(rule.kind, rule.ms))
                    self.fired[rule.kind] = self.fired.get(rule.kind, 0) + 1
        return fired
