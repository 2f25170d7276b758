"""docs/webhooks.md cannot drift: its event catalog is the code's, its verification code runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kassa.webhooks.outbound.catalog_doc import catalog_in
from kassa.webhooks.outbound.signing import generate_secret, signed_headers

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "webhooks.md"


def _snippet(name: str, language: str) -> str:
    pattern = rf"<!-- doc-test: {name} -->\s*```{language}\n(.*?)```"
    match = re.search(pattern, DOC.read_text(), re.S)
    assert match, f"no {name} snippet in {DOC}"
    return match.group(1)


def test_the_event_catalog_in_the_docs_is_the_one_in_the_code(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env["KASSA_VAR_DIR"] = str(tmp_path)
    generated = subprocess.run(
        [sys.executable, "-m", "kassa", "webhooks", "catalog", "--markdown"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip("\n")
    assert "`webhook_endpoint.disabled`" in generated
    assert catalog_in(DOC.read_text()) == generated, (
        "docs/webhooks.md is out of date: run `kassa webhooks catalog --write docs/webhooks.md`"
    )


def _delivery(secrets: list[str]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": "evt_1", "type": "payment.succeeded", "data": {"x": "é"}}).encode()
    return body, signed_headers(secrets, "evt_1", int(time.time()), body)


def test_the_python_verification_in_the_docs_works() -> None:
    scope: dict[str, object] = {}
    exec(_snippet("verify-python", "python"), scope)
    verify, verify_hex = scope["verify"], scope["verify_hex"]
    old, new = generate_secret(), generate_secret()
    body, headers = _delivery([new, old])  # during a rotation
    assert verify(body, headers, new) and verify(body, headers, old)  # type: ignore[operator]
    assert verify_hex(body, headers, new)  # type: ignore[operator]
    assert not verify(body + b" ", headers, new)  # type: ignore[operator]
    assert not verify_hex(body, headers, old)  # type: ignore[operator]
    assert not verify(body, headers, generate_secret())  # type: ignore[operator]
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    assert not verify(body, stale, new)  # type: ignore[operator]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_verification_in_the_docs_works(tmp_path: Path) -> None:
    old, new = generate_secret(), generate_secret()
    body, headers = _delivery([new, old])
    harness = """
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const body = Buffer.from(input.body, "base64");
const h = input.headers;
const out = {
  newOk: verify(body, h, input.new), oldOk: verify(body, h, input.old),
  hexOk: verifyHex(body, h, input.new),
  tampered: verify(Buffer.concat([body, Buffer.from(" ")]), h, input.new),
  wrongHex: verifyHex(body, h, input.old),
};
console.log(JSON.stringify(out));
"""
    script = tmp_path / "verify.js"
    script.write_text(_snippet("verify-js", "js") + harness)
    import base64

    stdin = json.dumps(
        {"body": base64.b64encode(body).decode(), "headers": headers, "new": new, "old": old}
    )
    result = subprocess.run(
        ["node", str(script)], input=stdin, capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(result.stdout) == {
        "newOk": True,
        "oldOk": True,
        "hexOk": True,
        "tampered": False,
        "wrongHex": False,
    }
