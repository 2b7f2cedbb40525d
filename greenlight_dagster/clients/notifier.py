"""Delivers `core.alerts.Alert` messages: AWS SNS (boto3) and e-mail (SMTP).

A notification is a side channel: when the topic or the mail server fails, the sync must go on,
so `Notifier.send` never raises for a delivery failure; it returns one sentence per failed
channel for the caller to log and record. boto3 is imported only when a topic is configured
(it comes with ``pip install '.[aws]'``). Credentials are the standard AWS chain (the code
location's IAM role needs ``sns:Publish`` on the topic) and ``GREENLIGHT_SMTP_PASSWORD``; neither
appears in a message or an error.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from greenlight_dagster.core.alerts import Alert, AlertSettings

SMTP_TIMEOUT_SECONDS = 15.0


class Notifier:
    """Sends each alert to every configured channel."""

    def __init__(self, settings: AlertSettings, *, sns_client: Any = None,
                 smtp_factory: Callable[..., smtplib.SMTP] = smtplib.SMTP) -> None:
        self.settings = settings
        self._sns = sns_client
        self._smtp_factory = smtp_factory

    def __repr__(self) -> str:
        return (f"Notifier(sns={bool(self.settings.sns_topic_arn)}, email_to={list(self.settings.email_to)}, "
                f"smtp={self.settings.smtp_host!r})")

    def send(self, alert: Alert) -> list[str]:
        """Deliver ``alert``; the failures, one sentence each (empty: delivered everywhere, or alerts off)."""
        failures = []
        if self.settings.sns_topic_arn:
            try:
                self._publish(alert)
            except Exception as exc:  # any failure of the side channel is reported, never raised
                failures.append(f"SNS publish to {self.settings.sns_topic_arn} failed: {type(exc).__name__}: {exc}")
        if self.settings.email_to:
            try:
                self._mail(alert)
            except Exception as exc:
                failures.append(f"e-mail via {self.settings.smtp_host}:{self.settings.smtp_port} failed: "
                                f"{type(exc).__name__}: {exc}")
        return failures

    def _publish(self, alert: Alert) -> None:
        if self._sns is None:
            import boto3

            self._sns = boto3.client("sns")
        self._sns.publish(TopicArn=self.settings.sns_topic_arn, Subject=alert.subject, Message=alert.body,
                          MessageAttributes={"kind": {"DataType": "String", "StringValue": alert.kind.value}})

    def _mail(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.settings.email_from
        message["To"] = ", ".join(self.settings.email_to)
        message["X-GreenLight-Alert"] = alert.kind.value
        message.set_content(alert.body)
        with self._smtp_factory(self.settings.smtp_host, self.settings.smtp_port,
                                timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if self.settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.settings.smtp_user:
                smtp.login(self.settings.smtp_user, self.settings.smtp_password)
            smtp.send_message(message)
