"""`kassa run` as a new user starts it: one command, a printed key that works, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, kassa_env

pytestmark = pytest.mark.slow


def _get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait_for_banner(process: subprocess.Popen[str], deadline: float) -> list[str]:
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Stop with Ctrl-C" in line:
            return lines
    raise AssertionError("no banner:\n" + "".join(lines))


def _wait_healthy(url: str, deadline: float) -> dict[str, object]:
    while time.monotonic() < deadline:
        try:
            status, body = _get(url)
            checks = body.get("checks", {})
            if status == 200 and isinstance(checks, dict) and checks["worker"]["status"] == "ok":
                return body
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("kassa did not become healthy")


def _start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = kassa_env(KASSA_VAR_DIR=str(tmp_path / "var"), KASSA_PORT=str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "kassa", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kassa_run_prints_a_working_key_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = _start(tmp_path, port)
    try:
        banner = "".join(_wait_for_banner(process, time.monotonic() + 90))
        key = next(w for w in banner.split() if w.startswith("sk_test_"))
        base = f"http://127.0.0.1:{port}"
        # the banner's "Try it" works at once: it is printed once the API answers
        status, account = _get(f"{base}/v1/account", key)
        assert status == 200
        assert str(account["id"]).startswith("acct_")
        _wait_healthy(f"{base}/health", time.monotonic() + 90)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=40) == 0
    finally:
        if process.poll() is None:
            process.kill()

    # a second start prints the same key again (kept under var/), and it still works
    process = _start(tmp_path, port)
    try:
        again = "".join(_wait_for_banner(process, time.monotonic() + 60))
        assert key in again
        _wait_healthy(f"http://127.0.0.1:{port}/health", time.monotonic() + 90)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_production_start_without_secret_key_refuses(tmp_path: Path) -> None:
    env = kassa_env(KASSA_VAR_DIR=str(tmp_path), KASSA_ENV="production")
    result = subprocess.run(
        [sys.executable, "-m", "kassa", "run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "KASSA_SECRET_KEY" in result.stderr
    assert "sk_test_" not in result.stdout
