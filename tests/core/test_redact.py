"""Credentials written into text are masked wherever kassa prints or logs it."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from kassa.core.logging import JsonFormatter, TextFormatter
from kassa.core.redact import mask_credentials, redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "postgresql://postgres:hunter2secret@db:5432/kassa",
            "postgresql://postgres:***@db:5432/kassa",
        ),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:***@h/db"),
        ("redis://:hunter2secret@cache:6379/0", "redis://:***@cache:6379/0"),
        # an unescaped "@" in the password does not leave its end visible
        ("smtp://mail:pa@ss@mx.example:587", "smtp://mail:***@mx.example:587"),
        (
            "connect failed for 'postgresql://a:b@h/x'",
            "connect failed for 'postgresql://a:***@h/x'",
        ),
        ("host=db user=kassa password=hunter2secret", "host=db user=kassa password=***"),
        (
            "https://h/cb?token=1&password=hunter2secret&x=1",
            "https://h/cb?token=1&password=***&x=1",
        ),
    ],
)
def test_passwords_in_text_are_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked
    assert redact({"detail": text}) == {"detail": masked}


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://postgres@db/kassa",  # no password: nothing to hide
        "http://127.0.0.1:8000/v1/account",
        "mail admin@kassa.local about it",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert mask_credentials(text) == text


def _record(message: str, **extra: object) -> logging.LogRecord:
    try:
        raise ConnectionError(f"cannot reach {message}")
    except ConnectionError:
        record = logging.LogRecord(
            "kassa.test", logging.ERROR, __file__, 1, "db %s down", (message,), sys.exc_info()
        )
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_logs_never_show_a_url_password(formatter: logging.Formatter) -> None:
    url = "postgresql://kassa:hunter2secret@db.internal:5432/kassa"

    class Url:  # an object whose text is the URL, as a driver's URL object may be
        def __str__(self) -> str:
            return url

    line = formatter.format(_record(url, target=url, target_object=Url()))
    assert "hunter2secret" not in line
    assert "postgresql://kassa:***@db.internal:5432/kassa" in line
    if isinstance(formatter, JsonFormatter):
        payload = json.loads(line)
        assert payload["msg"] == "db postgresql://kassa:***@db.internal:5432/kassa down"
        assert "ConnectionError" in payload["exc"]
