"""schemathesis over the whole served OpenAPI, every check, against `kassa serve` on PostgreSQL.

A bounded number of examples per operation keeps it near a minute; the full run is the same
command with more examples (see tests/api/schemathesis.toml for the one setting it needs).
Revoking keys runs with a key of its own: schemathesis revokes the key it is given."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import merchant
from tests.helpers import ROOT, free_port, kassa_env

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = "8"


@pytest.fixture
def server(db: Backend, tmp_path: Path) -> Iterator[str]:
    if db.name != "postgresql":
        pytest.skip("the contract run is on PostgreSQL")
    port = free_port()
    env = kassa_env(
        KASSA_DATABASE_URL=db.url,
        KASSA_PORT=str(port),
        KASSA_SECRET_KEY="s" * 40,
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_RATE_LIMIT_PER_KEY="0",
        KASSA_RATE_LIMIT_PER_IP="0",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kassa serve did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _schemathesis(
    base: str, key: str, cwd: Path, *selection: str
) -> subprocess.CompletedProcess[str]:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        EXAMPLES,
        "--workers",
        "2",
        "--seed",
        "4242",
        "--no-color",
        *selection,
    ]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _failures(stdout: str) -> str:
    """The failures section (the reproducing requests), not the warnings after it."""
    start = stdout.find("=== FAILURES")
    end = stdout.find("=== WARNINGS")
    return stdout[start:end][:8000] if start >= 0 else stdout[-6000:]


async def test_schemathesis_finds_nothing_on_postgresql(
    server: str, db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    spare = await merchant(db.sessions, "Spare")
    for key, selection in (
        (acme.key, ("--exclude-path-regex", "revoke$")),
        (spare.key, ("--include-path-regex", "revoke$")),
    ):
        result = _schemathesis(server, key, tmp_path, *selection)
        assert result.returncode == 0, _failures(result.stdout) + result.stderr[-2000:]
        assert " passed" in result.stdout and "failures" not in result.stdout.splitlines()[-1]
