"""`kassa webhooks ...` against a real database, as an operator runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import Backend
from tests.factories import merchant

# How the API writes times (pydantic): ISO 8601 in UTC with a Z.
API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def kassa(db: Backend, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(
        KASSA_DATABASE_URL=db.url,
        KASSA_SECRET_KEY="test-secret-" + "x" * 40,
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_WEBHOOK_ALLOW_PRIVATE="true",
        KASSA_LOG_LEVEL="WARNING",
    )
    return subprocess.run(
        [sys.executable, "-m", "kassa", "webhooks", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_create_list_ping_and_inspect_from_the_command_line(
    db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    created = kassa(
        db, tmp_path, "create", "--account", acme.account_id, "--url", "http://127.0.0.1:9/x"
    )
    assert created.returncode == 0, created.stderr
    endpoint = json.loads(created.stdout)
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled_events"] == ["*"]
    pinged = kassa(db, tmp_path, "test", endpoint["id"], "--account", acme.account_id)
    assert pinged.returncode == 0 and pinged.stdout.startswith("queued whd_")
    listed = kassa(db, tmp_path, "events", "--account", acme.account_id)
    [event] = json.loads(listed.stdout)
    assert event["type"] == "webhook_endpoint.ping"
    assert API_TIME.match(event["created_at"]), event["created_at"]
    shown = kassa(db, tmp_path, "event", event["id"], "--account", acme.account_id)
    assert shown.returncode == 0, shown.stderr
    assert API_TIME.match(json.loads(shown.stdout)["created_at"])
