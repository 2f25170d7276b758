"""`kassa serve` with several worker processes: each worker logs like the rest of kassa."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import ROOT, free_port, kassa_env


def test_every_api_worker_logs_json_with_request_ids(tmp_path: Path) -> None:
    port = free_port()
    env = kassa_env(
        # A database nobody listens on: every request logs "database unavailable".
        KASSA_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing",
        KASSA_PORT=str(port),
        KASSA_API_WORKERS="2",
        KASSA_SECRET_KEY="w" * 40,
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_LOG_FORMAT="json",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/v1/account",
                    headers={"Authorization": "Bearer sk_test_x", "X-Request-Id": "req-trace-1"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 503
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    logged = [line for line in lines if "database unavailable" in line.get("msg", "")]
    assert logged, stderr[-2000:]
    assert logged[0]["request_id"] == "req-trace-1"
