"""Alert settings and messages (core/alerts.py): off by default, clear errors, what happened and what to do."""

from __future__ import annotations

import pytest

from greenlight_dagster.core.alerts import (
    SUBJECT_LIMIT,
    AlertSettings,
    AlertSettingsError,
    duplicate_jobs,
    held_back,
    new_dead_letters,
    run_failed,
    waiting_for_a_person,
)
from greenlight_dagster.core.plan import HeldBack, HoldReason

TOPIC = "arn:aws:sns:us-east-1:123456789012:greenlight-alerts"


def test_alerts_are_off_until_a_topic_or_an_address_is_set() -> None:
    assert not AlertSettings.from_env({}).enabled
    assert AlertSettings.from_env({"GREENLIGHT_ALERTS_SNS_TOPIC_ARN": TOPIC}).enabled
    mail = AlertSettings.from_env({"GREENLIGHT_ALERTS_EMAIL_TO": "ops@example.com, lead@example.com",
                                   "GREENLIGHT_ALERTS_EMAIL_FROM": "greenlight@example.com",
                                   "GREENLIGHT_SMTP_HOST": "smtp.example.com", "GREENLIGHT_SMTP_PASSWORD": "pw-S3CRET"})
    assert mail.enabled and mail.email_to == ("ops@example.com", "lead@example.com") and mail.smtp_starttls
    assert "pw-S3CRET" not in repr(mail)


@pytest.mark.parametrize(("env", "named"), [
    ({"GREENLIGHT_ALERTS_SNS_TOPIC_ARN": "greenlight-alerts"}, "GREENLIGHT_ALERTS_SNS_TOPIC_ARN"),
    ({"GREENLIGHT_ALERTS_EMAIL_TO": "ops@example.com"}, "GREENLIGHT_SMTP_HOST"),
    ({"GREENLIGHT_SMTP_PORT": "twenty-five"}, "GREENLIGHT_SMTP_PORT"),
    ({"GREENLIGHT_SMTP_STARTTLS": "maybe"}, "GREENLIGHT_SMTP_STARTTLS"),
    ({"GREENLIGHT_ALERTS_HELD_BACK_THRESHOLD": "-3"}, "GREENLIGHT_ALERTS_HELD_BACK_THRESHOLD"),
])
def test_an_unusable_setting_is_an_error_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(AlertSettingsError, match=named):
        AlertSettings.from_env(env)


def test_every_message_says_what_happened_and_what_to_do() -> None:
    alerts = [run_failed("sync", "8f2c0d1e-run", "PropertyWare circuit breaker open\nafter 5 failures",
                         ["pw__work_orders"]),
              new_dead_letters("sf_jobs", "8f2c0d1e-run", ["sf:create_job:1: 422 street_1 is required"] * 12, 12),
              duplicate_jobs("8f2c0d1e-run", ["work order 5 ~ SF job 9: same unit and description"]),
              held_back("8f2c0d1e-run", 60, 10, 50, {"unit_routing": 40, "unmapped_status": 20})]
    for alert in alerts:
        assert alert is not None
        assert "What happened:" in alert.body and "What to do:" in alert.body
        assert len(alert.subject) <= SUBJECT_LIMIT and "\n" not in alert.subject
    assert "... and 2 more" in alerts[1].body  # type: ignore[union-attr]
    assert "unit_routing: 40" in alerts[3].body  # type: ignore[union-attr]


def test_quiet_when_there_is_nothing_new() -> None:
    assert new_dead_letters("sf_jobs", "r", [], 0) is None
    assert duplicate_jobs("r", []) is None
    assert held_back("r", 49, None, 50, {}) is None  # below the threshold
    assert held_back("r", 70, 55, 50, {}) is None  # already past it on the last plan: told then
    assert held_back("r", 50, None, 50, {"unit_routing": 50}) is not None
    assert held_back("r", 500, 0, 0, {}) is None  # threshold 0: this alert is off


def test_only_held_items_that_wait_for_a_person_count() -> None:
    held = [HeldBack("sf", "create_job", "1", HoldReason.UNIT_ROUTING, ""),
            HeldBack("sf", "create_job", "2", HoldReason.UNIT_ROUTING, ""),
            HeldBack("sf", "create_job", "3", HoldReason.ALREADY_DONE, ""),
            HeldBack("sf", "create_job", "4", HoldReason.STATUS_NOT_OPEN, ""),
            HeldBack("sf", "create_job", "5", HoldReason.DUPLICATE, "")]
    assert waiting_for_a_person(held) == {"unit_routing": 2, "duplicate": 1}
