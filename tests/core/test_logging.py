from __future__ import annotations

import json
import logging

from kassa.core import context
from kassa.core.logging import JsonFormatter, configure_logging


def test_json_logs_carry_the_request_id_and_hide_secrets() -> None:
    context.set_context(context.RequestContext(request_id="req_42"))
    record = logging.LogRecord(
        "kassa.test", logging.INFO, __file__, 1, "charged with key sk_live_abcDEF123", (), None
    )
    record.authorization = "Bearer sk_live_abcDEF123"
    record.amount = 100
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req_42"
    assert line["msg"] == "charged with key [redacted]"
    assert line["authorization"] == "[redacted]"
    assert line["amount"] == 100
    assert "sk_live_abcDEF123" not in json.dumps(line)
    context.set_context(context.RequestContext())


def test_http_client_requests_are_not_logged_at_info() -> None:
    """httpx logs each request at INFO; the chain monitor makes three a block."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "text")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
        assert logging.getLogger("kassa.worker").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger("httpcore").setLevel(logging.NOTSET)
