"""Connects to what the settings point at: the database, Redis, the SMTP server, the plugins.

`kassa config check` says "The configuration can work." only after each of these answered
within a short timeout; otherwise it names the setting and the reason (connection refused,
database does not exist, login refused, ...). URLs in its messages have their password masked.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import smtplib
import sqlite3
import ssl
from pathlib import Path

from kassa.config_check import Problem
from kassa.core.db import is_sqlite_url, sqlite_file
from kassa.core.redact import mask_credentials
from kassa.core.settings import Settings

DEFAULT_TIMEOUT = 5.0


def reason(exc: BaseException) -> str:
    """The innermost cause of ``exc``, as one line: what the driver or server said."""
    while True:
        inner = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(inner, BaseException) or inner is exc:
            break
        exc = inner
    text = str(exc).strip() or "no answer"
    if isinstance(exc, TimeoutError):
        text = "no answer in time"
    return mask_credentials(f"{type(exc).__name__}: {text}".splitlines()[0])


def import_plugins(settings: Settings) -> list[Problem]:
    """Every KASSA_PLUGINS module must import (each process imports them at start-up)."""
    problems = []
    for module in settings.plugins:
        try:
            importlib.import_module(module)
        except Exception as exc:
            problems.append(Problem("KASSA_PLUGINS", f"cannot import {module}: {reason(exc)}"))
    return problems


async def probe_database(url: str, within: float = DEFAULT_TIMEOUT) -> Problem | None:
    if is_sqlite_url(url):
        path = sqlite_file(url)
        return None if path is None else await asyncio.to_thread(_probe_sqlite, path, within)
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": within})
    try:
        async with asyncio.timeout(within + 1), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return Problem(
            "KASSA_DATABASE_URL", f"cannot connect to {mask_credentials(url)}: {reason(exc)}"
        )
    finally:
        await engine.dispose()
    return None


def _probe_sqlite(path: Path, within: float) -> Problem | None:
    """An existing file must open as a database; a new one needs a folder kassa can create
    and write, and is not created here."""
    if path.exists():
        try:
            # mode=rw: open what is there, never create an empty database by checking.
            with sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=within) as db:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.close()
        except sqlite3.Error as exc:
            return Problem("KASSA_DATABASE_URL", f"cannot open {path}: {reason(exc)}")
        return None
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return Problem(
            "KASSA_DATABASE_URL", f"cannot create {path}: {folder} is not a writable folder"
        )
    return None


async def probe_redis(url: str, within: float = DEFAULT_TIMEOUT) -> Problem | None:
    import redis.asyncio as aioredis

    try:
        client = aioredis.from_url(url, socket_connect_timeout=within, socket_timeout=within)
    except ValueError as exc:
        return Problem("KASSA_REDIS_URL", f"not a Redis URL: {reason(exc)}")
    try:
        async with asyncio.timeout(within + 1):
            await client.ping()
    except Exception as exc:
        return Problem("KASSA_REDIS_URL", f"cannot reach {mask_credentials(url)}: {reason(exc)}")
    finally:
        await client.aclose()
    return None


def probe_smtp(settings: Settings, within: float = DEFAULT_TIMEOUT) -> Problem | None:
    """Connect, say EHLO, STARTTLS and log in as the mailer does, and send nothing."""
    host, port = settings.smtp_host, settings.smtp_port
    if not host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if port == 465:  # SMTPS: TLS from the first byte, as the mailer speaks it
            smtp = smtplib.SMTP_SSL(host, port, timeout=within, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=within)
        with smtp:
            smtp.ehlo()
            if settings.smtp_starttls and port != 465:
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.smtp_username and password:
                try:
                    smtp.login(settings.smtp_username, password)
                except smtplib.SMTPAuthenticationError as exc:
                    return Problem(
                        "KASSA_SMTP_USERNAME", f"{host}:{port} refused the login: {reason(exc)}"
                    )
    except (OSError, smtplib.SMTPException) as exc:
        return Problem("KASSA_SMTP_HOST", f"cannot use {host}:{port}: {reason(exc)}")
    return None


async def probe_all(settings: Settings, within: float = DEFAULT_TIMEOUT) -> list[Problem]:
    """Each configured service, at once: the check takes the slowest one's time, not the sum."""
    checks = [probe_database(settings.effective_database_url, within)]
    if settings.redis_url is not None:
        checks.append(probe_redis(settings.redis_url.get_secret_value(), within))
    if settings.smtp_host:
        checks.append(asyncio.to_thread(probe_smtp, settings, within))
    return [p for p in await asyncio.gather(*checks) if p is not None]
