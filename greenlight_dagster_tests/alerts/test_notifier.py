"""Delivery (clients/notifier.py): SNS against moto, e-mail against a local SMTP server, failures reported."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from greenlight_dagster.clients.notifier import Notifier
from greenlight_dagster.core.alerts import AlertSettings, run_failed
from greenlight_dagster_tests.alerts.smtp_server import smtp_server

REGION = "us-east-1"
ALERT = run_failed("sync", "8f2c0d1e-aaaa", "ServiceFusion answered 503", ["push__sf_jobs"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_an_alert_is_published_to_the_sns_topic(aws: None) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="greenlight-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    assert Notifier(AlertSettings(sns_topic_arn=topic)).send(ALERT) == []  # boto3 built from the AWS chain

    (received,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(received["Body"])
    assert envelope["Subject"] == ALERT.subject and envelope["Message"] == ALERT.body
    assert envelope["MessageAttributes"]["kind"]["Value"] == "run_failed"


def test_an_alert_is_mailed_to_every_address() -> None:
    with smtp_server() as mailbox:
        settings = AlertSettings(email_to=("ops@example.com", "lead@example.com"), email_from="greenlight@example.com",
                                 smtp_host=mailbox.host, smtp_port=mailbox.port, smtp_starttls=False)
        assert Notifier(settings).send(ALERT) == []
    ((sender, recipients, message),) = mailbox.messages
    assert sender == "greenlight@example.com" and recipients == ["ops@example.com", "lead@example.com"]
    assert message["Subject"] == ALERT.subject and message["X-GreenLight-Alert"] == "run_failed"
    assert "What to do:" in message.get_payload()


def test_a_delivery_failure_is_reported_not_raised(aws: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = AlertSettings(sns_topic_arn="arn:aws:sns:us-east-1:123456789012:no-such-topic",
                             email_to=("ops@example.com",), email_from="greenlight@example.com",
                             smtp_host="127.0.0.1", smtp_port=closed_port, smtp_user="alerts",
                             smtp_password="smtp-S3CRET-value")
    failures = Notifier(settings).send(ALERT)
    assert len(failures) == 2
    assert failures[0].startswith("SNS publish to arn:aws:sns") and "e-mail via 127.0.0.1" in failures[1]
    assert not any("smtp-S3CRET-value" in failure for failure in failures)
