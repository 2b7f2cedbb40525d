"""Operators are told (issue 17.7): the push step, the dead-letter replay and the run-failure sensor send
alerts through the configured channel (here e-mail to a local SMTP server), and stay silent when
alerts are off. SNS delivery itself is tested against moto in greenlight_dagster_tests/alerts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from greenlight_dagster.core.dedup import DuplicateDecision
from greenlight_dagster.core.plan import PlannedWrite
from greenlight_dagster.defs.automation.jobs import replay_dead_letters_job
from greenlight_dagster.defs.automation.sensors import record_run_failures
from greenlight_dagster.defs.push.assets import PW_WORK_ORDERS, send_push_plan
from greenlight_dagster.lib.resources import WarehouseResource
from greenlight_dagster.warehouse.ledger_store import LedgerStore
from greenlight_dagster.warehouse.run_records import previous_step_stat, record_run
from greenlight_dagster_tests.alerts.smtp_server import Mailbox, smtp_server
from greenlight_dagster_tests.failed_runs import failed_run

from .sandbox_world import SEND_ALL, Sandbox
from .test_replay_job import resources

pytestmark = pytest.mark.integration


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as box:
        for name, value in {"GREENLIGHT_ALERTS_EMAIL_TO": "ops@example.com",
                            "GREENLIGHT_ALERTS_EMAIL_FROM": "greenlight@example.com",
                            "GREENLIGHT_SMTP_HOST": box.host, "GREENLIGHT_SMTP_PORT": str(box.port),
                            "GREENLIGHT_SMTP_STARTTLS": "false"}.items():
            monkeypatch.setenv(name, value)
        yield box


def _refused_update_planned(store: LedgerStore) -> None:
    """A status update of a work order PropertyWare does not have: refused for good (a SOAP client fault)."""
    write = PlannedWrite.of("pw", "update_work_order", 99999999, {"workOrderID": 99999999, "status": "Completed"})
    store.record_plan([write], now=datetime.now(UTC), run_id="plan")


def _push_pw(configured_world: Sandbox) -> dg.ExecuteInProcessResult:
    return dg.materialize([send_push_plan], selection=[PW_WORK_ORDERS], resources=resources(configured_world),
                          raise_on_error=False)


def test_a_push_step_that_files_dead_letters_tells_operators(store: LedgerStore, configured_world: Sandbox,
                                                             mailbox: Mailbox) -> None:
    _refused_update_planned(store)
    assert _push_pw(configured_world).success and len(store.dead_letters()) == 1
    ((_, recipients, message),) = mailbox.messages
    assert recipients == ["ops@example.com"] and message["X-GreenLight-Alert"] == "dead_letters"
    assert "1 new dead letter(s) in pw_work_orders" in message["Subject"]
    assert "99999999" in message.get_payload() and "greenlight dead-letters replay" in message.get_payload()


def test_a_replay_that_fails_again_tells_operators(store: LedgerStore, configured_world: Sandbox,
                                                   mailbox: Mailbox) -> None:
    _refused_update_planned(store)
    _push_pw(configured_world)
    (letter,) = store.dead_letters()
    replayed = replay_dead_letters_job.execute_in_process(
        run_config={"ops": {"replay_selected_dead_letters": {"config": {"ledger_ids": [letter.entry.id]}}}},
        resources=resources(configured_world), raise_on_error=False)
    assert replayed.success
    assert [m["Subject"] for _, _, m in mailbox.messages][-1].endswith("new dead letter(s) in replay to pw")


def test_nothing_is_sent_while_alerts_are_off(store: LedgerStore, configured_world: Sandbox,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as box:
        monkeypatch.delenv("GREENLIGHT_ALERTS_EMAIL_TO", raising=False)
        monkeypatch.delenv("GREENLIGHT_ALERTS_SNS_TOPIC_ARN", raising=False)
        monkeypatch.setenv("GREENLIGHT_SMTP_HOST", box.host)
        _refused_update_planned(store)
        assert _push_pw(configured_world).success and len(store.dead_letters()) == 1
    assert box.messages == []


def test_a_failed_run_tells_operators(clean_ops: Engine, mailbox: Mailbox) -> None:
    run = failed_run("PropertyWare answered 503 three times")
    record_run_failures(run.context, warehouse=WarehouseResource())
    ((_, _, message),) = mailbox.messages
    assert message["Subject"] == "GreenLight: run of doomed failed (explode)"
    assert run.run_id in message.get_payload() and "What to do:" in message.get_payload()


def test_an_unusable_alert_setting_is_recorded_and_the_run_goes_on(clean_ops: Engine,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLIGHT_ALERTS_SNS_TOPIC_ARN", "greenlight-alerts")  # a name, not an ARN
    record_run_failures(failed_run("boom").context, warehouse=WarehouseResource())
    with clean_ops.connect() as conn:
        reasons = conn.execute(text("select reason from ops.error_log where source = 'alerts'")).scalars().all()
    assert len(reasons) == 1 and "GREENLIGHT_ALERTS_SNS_TOPIC_ARN" in reasons[0]


def test_duplicates_are_new_once_and_the_last_plans_count_is_remembered(store: LedgerStore,
                                                                         clean_ops: Engine) -> None:
    now = datetime.now(UTC)
    duplicate = DuplicateDecision(True, "fuzzy", 0.93, "8100", "same unit and description")
    store.log_decisions([("9000", duplicate)], target="sf", run_id="run-1", now=now)
    assert store.new_duplicate_detections("run-1") == ["work order 9000 ~ SF job 8100: same unit and description"]
    store.log_decisions([("9000", duplicate), ("9001", duplicate)], target="sf", run_id="run-2",
                        now=now + timedelta(minutes=30))
    assert [line.split(" ~ ")[0] for line in store.new_duplicate_detections("run-2")] == ["work order 9001"]

    assert previous_step_stat(clean_ops, "run-3", "push_plan", "needs_a_person") is None
    record_run(clean_ops, "run-2", kind="sync", flags=SEND_ALL, stats={"push_plan": {"needs_a_person": 7}})
    assert previous_step_stat(clean_ops, "run-3", "push_plan", "needs_a_person") == 7
