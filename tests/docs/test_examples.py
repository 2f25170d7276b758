"""The docs' curl examples run, in order, against a real `kassa run`, and answer as documented.

One server (API and worker, SQLite, a fresh var dir, the demo key) serves the whole module.
Each marked shell block of the docs in RUNNABLE_DOCS (README.md, docs/api.md, the payments,
webhooks, stablecoins and payouts guides) runs
through bash and the real curl, with ``$KASSA`` and ``$KEY`` set, ``http://127.0.0.1:8000`` and
``sk_test_...`` replaced by the server's, and ``pay_...``-style placeholders replaced by the ids
of earlier answers (tests/docs/examples.py says how). Every answer must be a 2xx (or the
problem its documented shape names), shaped as documented: the same keys, nested, with the
same types, and the same values where they are stable (``object``, ``status``, ``code``, ...).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.docs.examples import (
    DOCS_CHAINS,
    ROOT,
    RUNNABLE_DOCS,
    Example,
    Step,
    differences,
    examples,
    expected_status,
    fences,
)
from tests.helpers import free_port, kassa_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

DOC_BASE = "http://127.0.0.1:8000"
PLACEHOLDER = re.compile(r"\b([a-z]+_)\.\.\.")
# curl writes the status after the body, on stderr, so a doc's own redirect of stdout stays its.
CURL = 'curl() { command curl --write-out "%{stderr}\\n<doc-test: HTTP %{http_code}>\\n" "$@"; }\n'
STATUS = re.compile(r"<doc-test: HTTP (\d{3})>")


@dataclass
class Server:
    base: str
    key: str
    account: str
    banner: str
    env: dict[str, str]


def _wait_for_banner(process: subprocess.Popen[str], deadline: float) -> str:
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Stop with Ctrl-C" in line:
            return "".join(lines)
    raise AssertionError("kassa run printed no banner:\n" + "".join(lines))


def _wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
            if body["checks"]["worker"]["status"] == "ok":
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("kassa did not become healthy")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    var = tmp_path_factory.mktemp("docs-var")
    # docs/webhooks.md registers a local receiver as it tells readers to: with private targets
    env = kassa_env(
        KASSA_VAR_DIR=str(var),
        KASSA_PORT=str(port),
        KASSA_CHAINS=DOCS_CHAINS,
        KASSA_WEBHOOK_ALLOW_PRIVATE="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _wait_for_banner(process, time.monotonic() + 90)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{base}/health", time.monotonic() + 60)
        key = re.search(r"sk_test_\w+", banner)
        account = re.search(r"acct_\w+", banner)
        assert key and account, banner
        # what a reader's shell has: the variables of docs/payments.md, kassa on the PATH
        shell_env = {
            **env,
            "KASSA": base,
            "KEY": key.group(0),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        }
        yield Server(base, key.group(0), account.group(0), banner, shell_env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Answer:
    status: int | None  # the HTTP status of the command's curl, None for other commands
    body: str
    returncode: int
    stderr: str


def _run(server: Server, command: str, workdir: Path) -> Answer:
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", CURL + command],
        env=server.env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    statuses = STATUS.findall(result.stderr)
    return Answer(
        int(statuses[-1]) if statuses else None,
        result.stdout,
        result.returncode,
        STATUS.sub("", result.stderr).strip(),
    )


def _substitute(command: str, server: Server, ids: dict[str, str]) -> str:
    command = command.replace(DOC_BASE, server.base).replace("sk_test_...", server.key)
    return PLACEHOLDER.sub(lambda m: ids.get(m.group(1), m.group(0)), command)


class Reader:
    """Follows one doc's examples in order, remembering the ids its answers gave."""

    def __init__(self, server: Server, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.ids: dict[str, str] = {"acct_": server.account}
        self.ids_after: dict[str, dict[str, str]] = {}
        self.failures: list[str] = []

    def follow(self, example: Example) -> None:
        for step in example.steps:
            ids = dict(self.ids)
            for prefix, earlier in example.bindings.items():
                assert earlier in self.ids_after, f"{example.name}: no example {earlier} before it"
                ids[prefix] = self.ids_after[earlier][prefix]
            self.check(example.where(step), step, _substitute(step.command, self.server, ids))
        self.ids_after[example.name] = dict(self.ids)

    def check(self, where: str, step: Step, command: str) -> Any:
        answer = _run(self.server, command, self.workdir)
        problem = f"{where}\n  $ {command}\n  "
        if answer.returncode != 0:
            self.failures.append(problem + f"exited {answer.returncode}: {answer.stderr}")
            return None
        wanted = expected_status(step.shapes)
        if answer.status is not None:
            ok = answer.status == wanted if wanted else 200 <= answer.status < 300
            if not ok:
                self.failures.append(
                    problem + f"HTTP {answer.status}, documented {wanted or '2xx'}: {answer.body}"
                )
                return None
        try:
            body = json.loads(answer.body)
        except ValueError:
            if step.shapes:
                self.failures.append(problem + f"not JSON: {answer.body!r}")
            return None
        for shape in step.shapes:
            found = differences(shape, body)
            if found:
                self.failures.append(problem + "\n  ".join(found))
        if isinstance(body, dict) and isinstance(body.get("id"), str) and "_" in body["id"]:
            self.ids[body["id"].split("_", 1)[0] + "_"] = body["id"]
        return body


def _report(failures: list[str]) -> str:
    return "the docs' examples do not do what they say:\n\n" + "\n\n".join(failures)


def test_the_readme_quick_start_prints_what_it_shows_and_its_curl_works(
    server: Server, tmp_path: Path
) -> None:
    text = (ROOT / "README.md").read_text()
    marker = text.index("<!-- doc-test: banner -->")
    banner = next(body for start, _, _, body in fences(text) if start > marker)
    port = server.base.rsplit(":", 1)[1]
    shown = [line.strip() for line in banner.splitlines() if line.strip()]
    for line in shown:
        pattern = r"\s+".join(
            ".*?".join(re.escape(part) for part in word.split("..."))
            for word in line.replace(":8000", f":{port}").split()
        )
        assert re.search(pattern, server.banner), f"README.md banner line not printed: {line}"

    try_it = next(line for line in shown if line.startswith("Try it:"))
    reader = Reader(server, tmp_path)
    command = try_it.removeprefix("Try it:").strip()
    account = reader.check(
        "README.md (quick start)",
        Step(command, 0, [{"id": "acct_...", "object": "account", "...": "..."}]),
        _substitute(command, server, {}),
    )
    assert not reader.failures, _report(reader.failures)
    assert account["id"] == server.account  # the key the banner printed is the demo account's


@pytest.mark.parametrize("doc", RUNNABLE_DOCS[1:])
def test_the_curl_examples_answer_as_documented(server: Server, tmp_path: Path, doc: str) -> None:
    found = examples(doc)
    assert found, f"{doc} marks no examples"
    reader = Reader(server, tmp_path)
    for example in found:
        reader.follow(example)
    assert not reader.failures, _report(reader.failures)


def test_every_metric_the_docs_name_is_served(server: Server) -> None:
    """Every metric named where the docs describe /metrics is in its output."""
    # one problem answer, so the problem counter has a sample even when this test runs alone
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(f"{server.base}/v1/account", timeout=10)
    documented = {
        name
        for doc in ("README.md", "docs/operations.md", "docs/payments.md")
        for paragraph in (ROOT / doc).read_text().split("\n\n")
        if "/metrics" in paragraph
        for name in re.findall(r"`(kassa_[a-z_]+)(?:\{[^`]*\})?`", paragraph)
    }
    assert "kassa_http_requests_total" in documented
    with urllib.request.urlopen(f"{server.base}/metrics", timeout=10) as response:
        served = response.read().decode()
    missing = [
        name
        for name in sorted(documented)
        if not re.search(rf"^{name}(_bucket|_count|_sum)?[{{ ]", served, re.M)
    ]
    assert missing == [], f"the docs name metrics /metrics does not serve: {missing}"
