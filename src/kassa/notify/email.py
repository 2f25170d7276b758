"""Email: an SMTP mailer (STARTTLS, optional login) and a log-only mailer for development.

Sending is blocking smtplib run in a thread: mail volume is small, and the standard library
speaks every SMTP server. Callers send from a job, so a failed send is retried by the worker.
"""

from __future__ import annotations

import asyncio
import email.message
import logging
import smtplib
import ssl
from dataclasses import dataclass
from typing import Protocol

from kassa.core.settings import Settings

log = logging.getLogger("kassa.notify")


@dataclass(frozen=True)
class EmailMessage:
    to: tuple[str, ...]
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class LogMailer:
    """Used when KASSA_SMTP_HOST is not set: the message is logged, not sent."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        log.info(
            "email not sent (no KASSA_SMTP_HOST): %s",
            message.subject,
            extra={"to": list(message.to), "subject": message.subject},
        )


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        implicit_tls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout
        self.implicit_tls = implicit_tls

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        mail = email.message.EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        # The system's CAs verify the server (SSL_CERT_FILE adds a private CA).
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.implicit_tls:
                smtp.starttls(context=context)
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(mail)
        log.info("email sent", extra={"to": list(message.to), "subject": message.subject})


def mailer_from_settings(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return LogMailer()
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_port == 465,  # SMTPS: TLS from the first byte
    )
