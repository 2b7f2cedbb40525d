"""Alerts from Dagster code: settings from the environment, delivery, and a record of what failed.

Thin on purpose: `core.alerts` builds the messages, `clients.notifier` delivers them. The
settings are read here from the process environment at the moment of sending (deployment
configuration, like the endpoints: run config cannot redirect alerts), and the alerts are built
only when some channel is on, so a deployment without alerts does no extra work. A delivery
failure or an unusable setting is logged and written to ``ops.error_log`` (source ``alerts``),
never raised: telling operators must not stop the sync.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, insert

from greenlight_dagster.clients.notifier import Notifier
from greenlight_dagster.core.alerts import Alert, AlertSettings, AlertSettingsError
from greenlight_dagster.warehouse.tables import error_log


def notify(log: Any, engine: Engine, run_id: str, build: Callable[[AlertSettings], Iterable[Alert | None]], *,
           env: Mapping[str, str] = os.environ, notifier: Notifier | None = None) -> list[Alert]:
    """Send the alerts ``build`` makes from the settings in force; returns those sent."""
    try:
        settings = AlertSettings.from_env(env)
    except AlertSettingsError as exc:
        _record(log, engine, run_id, "settings", f"alerts are not sent: {exc}")
        return []
    if not settings.enabled:
        return []
    channel = notifier or Notifier(settings)
    sent = []
    for alert in build(settings):
        if alert is None:
            continue
        for failure in channel.send(alert):
            _record(log, engine, run_id, alert.kind.value, f"alert {alert.kind.value!r} not delivered: {failure}")
        log.info(f"alert sent: {alert.subject}")
        sent.append(alert)
    return sent


def _record(log: Any, engine: Engine, run_id: str, entity: str, reason: str) -> None:
    log.warning(reason)
    with engine.begin() as conn:
        conn.execute(insert(error_log).values(run_id=run_id, source="alerts", entity=entity, source_key=run_id,
                                              reason=reason[:4000], severity="warning"))
