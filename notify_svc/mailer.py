"""Email on the wire: the message, the SMTP client, and the nameko dependency.

`build_message` makes a multipart/alternative message (text, then HTML) whose
Message-ID is derived from the notification id, `<notification-id@order-platform>`:
a notification re-sent after a crash between the server's acceptance and our commit
carries the same Message-ID, so a receiver can recognise the duplicate.

`SmtpClient` talks to SMTP_HOST:SMTP_PORT with smtplib (cooperative under eventlet's
monkey patch), every socket operation bounded by SMTP_TIMEOUT_S; STARTTLS when
SMTP_STARTTLS is true, LOGIN when SMTP_USER is set. A 5xx answer (address refused,
authentication rejected) raises `PermanentMailError`: trying again cannot help.

`Mailer` puts the client on the service (`self.mailer.send(message)`); worker_factory
tests hand in a fake with the same `send`.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from nameko.extensions import DependencyProvider

from common.db import utc_now
from notify_svc import domain

MESSAGE_ID_DOMAIN = "order-platform"


class PermanentMailError(Exception):
    """The mail server refused for good (5xx): no automatic retry."""


@dataclass(frozen=True)
class Outgoing:
    """An email a sender holds the lease of: everything needed to send it, once more."""

    id: str
    attempt: int
    kind: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@{MESSAGE_ID_DOMAIN}>"


def build_message(outgoing: Outgoing, mail_from: str) -> EmailMessage:
    """The multipart/alternative message of `outgoing`."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = outgoing.recipient
    message["Subject"] = outgoing.subject
    message["Message-ID"] = message_id(outgoing.id)
    message["Date"] = format_datetime(utc_now())
    message["Auto-Submitted"] = "auto-generated"
    message["X-Notification-Kind"] = outgoing.kind
    message.set_content(outgoing.body_text)
    if outgoing.body_html:
        message.add_alternative(outgoing.body_html, subtype="html")
    return message


class SmtpClient:
    """One SMTP conversation per message (the volume is low; nothing to keep open)."""

    def __init__(self, host: str, port: int, *, starttls: bool = False,
                 user: str | None = None, password: str | None = None,
                 timeout: float = 10.0):
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self.starttls, self.user, self.password = starttls, user or None, password or ""

    @classmethod
    def from_config(cls, config: dict) -> SmtpClient:
        return cls(str(config.get("SMTP_HOST") or "127.0.0.1"),
                   int(config.get("SMTP_PORT") or 25),
                   starttls=domain.as_bool(config.get("SMTP_STARTTLS")),
                   user=config.get("SMTP_USER") or None,
                   password=config.get("SMTP_PASSWORD") or "",
                   timeout=float(config.get("SMTP_TIMEOUT_S") or 10))

    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the server; raise on any failure (5xx: PermanentMailError)."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {exc.recipients}") from exc
            raise
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentMailError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise


class Mailer(DependencyProvider):
    """The service's SMTP client, configured from SMTP_* settings."""

    def setup(self):
        self.client = SmtpClient.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.client
