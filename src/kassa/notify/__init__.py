"""Telling people things: email over SMTP (or the log when no SMTP server is configured)."""

from kassa.notify.email import EmailMessage, LogMailer, Mailer, SmtpMailer, mailer_from_settings

__all__ = ["EmailMessage", "LogMailer", "Mailer", "SmtpMailer", "mailer_from_settings"]
