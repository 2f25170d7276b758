"""The notify module sends email over real SMTP, and only logs when none is configured."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kassa.core.settings import Settings
from kassa.notify import EmailMessage, LogMailer, SmtpMailer, mailer_from_settings
from tests.notify.smtp import PASSWORD, USER, self_signed, smtp_server


async def test_smtp_mailer_delivers_to_a_real_server() -> None:
    with smtp_server() as inbox:
        mailer = SmtpMailer(inbox.host, inbox.port, sender="kassa@example.com", starttls=False)
        await mailer.send(EmailMessage(("ops@example.com",), "Hello", "Body text\n"))
    [message] = inbox.messages
    assert message["Subject"] == "Hello" and message["From"] == "kassa@example.com"
    assert inbox.recipients == [["ops@example.com"]]
    assert message.get_content().strip() == "Body text"


# The implicit-TLS server is TLS from the first byte; aiosmtpd just cannot tell, and warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_smtp_mailer_logs_in_over_verified_tls(
    tls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certs[0]))  # how an operator adds a private CA
    with smtp_server(tls=tls, certs=certs) as inbox:
        mailer = SmtpMailer(
            inbox.host,
            inbox.port,
            sender="kassa@example.com",
            username=USER,
            password=PASSWORD,
            implicit_tls=tls == "implicit",
        )
        await mailer.send(EmailMessage(("ops@example.com",), "Over TLS", "Body\n"))
    [message] = inbox.messages
    assert message["Subject"] == "Over TLS"


async def test_an_untrusted_smtp_certificate_is_refused(tmp_path: Path) -> None:
    import ssl

    with smtp_server(tls="starttls", certs=self_signed(tmp_path)) as inbox:
        mailer = SmtpMailer(
            inbox.host, inbox.port, sender="kassa@example.com", username=USER, password=PASSWORD
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            await mailer.send(EmailMessage(("ops@example.com",), "Hello", "Body"))
    assert inbox.messages == []


async def test_port_465_means_implicit_tls(tmp_path: Path) -> None:
    smtps = mailer_from_settings(
        Settings(var_dir=tmp_path, smtp_host="mail.example.com", smtp_port=465)  # type: ignore[call-arg]
    )
    assert isinstance(smtps, SmtpMailer) and smtps.implicit_tls


async def test_unreachable_smtp_server_raises_so_the_job_is_retried() -> None:
    mailer = SmtpMailer("127.0.0.1", 1, sender="kassa@example.com", starttls=False, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        await mailer.send(EmailMessage(("ops@example.com",), "Hello", "Body"))


async def test_without_smtp_settings_mail_is_logged_not_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = mailer_from_settings(Settings(var_dir=tmp_path))  # type: ignore[call-arg]
    assert isinstance(mailer, LogMailer)
    with caplog.at_level(logging.INFO, logger="kassa.notify"):
        await mailer.send(EmailMessage(("ops@example.com",), "Endpoint failing", "..."))
    assert "Endpoint failing" in caplog.text
    configured = mailer_from_settings(
        Settings(var_dir=tmp_path, smtp_host="mail.example.com", smtp_port=2525)  # type: ignore[call-arg]
    )
    assert isinstance(configured, SmtpMailer) and configured.port == 2525
