"""JSON logs with request ids; secrets are redacted before anything is written.

The message, the extra fields and the traceback all pass through ``redact``: a driver error
that quotes a database URL shows ``postgresql://user:***@host``, never the password.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from kassa.core import context
from kassa.core.redact import mask_credentials, redact

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = context.current()
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if ctx.request_id:
            payload["request_id"] = ctx.request_id
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        payload.update(redact(extra))
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        # Values that are not strings (a URL object, an exception) become text only here.
        return mask_credentials(json.dumps(payload, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = context.current()
        rid = f" [{ctx.request_id}]" if ctx.request_id else ""
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        tail = " " + " ".join(f"{k}={v}" for k, v in redact(extra).items()) if extra else ""
        line = f"{record.levelname:<7} {record.name}{rid}: {redact(record.getMessage())}{tail}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return mask_credentials(line)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: the chain monitor's RPC calls alone (three a block)
    # would bury everything else, and the banner of `kassa demo --chain` with it.
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
