"""One error catalog: every code the API can send is declared once, with its kind (and so its
status) and meaning; no raise site spells a code; docs/errors.md, docs/api.md and the OpenAPI
``Problem`` schema say what the catalog says."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kassa.api.error_docs import errors_markdown, load_every_context
from kassa.api.errors import STATUS, status_of
from kassa.core import errors as e
from kassa.core.error_catalog import CATALOG, all_codes, code_names, declare, find
from kassa.payins.errors import refused_by_provider
from kassa.providers.base import PermanentProviderError
from tests.conftest import Backend
from tests.factories import merchant

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "kassa"
# The functions that put a code on the wire: none may be handed a string literal.
_SENDERS = {"problem", "problem_body", "_send_problem", "Refusal", "answer"}


def _kassa_error_classes() -> list[type[e.KassaError]]:
    load_every_context()
    found: list[type[e.KassaError]] = []
    pending = [e.KassaError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not e.KassaError and cls.__module__.startswith("kassa."):
            found.append(cls)
    return found


def _literal_codes(path: Path, error_classes: set[str]) -> list[str]:
    """Where a code is spelled outside a declaration: ``code="..."`` in any call, a ``code=``
    handed to an error class at all (the entry carries it), or a literal given to a sender."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ("declare", "variant"):
            continue
        where = f"{path.as_posix().rsplit('/src/', 1)[-1]}:{node.lineno}"
        for keyword in node.keywords:
            literal = isinstance(keyword.value, ast.Constant) and isinstance(
                keyword.value.value, str
            )
            if keyword.arg == "code" and (literal or name in error_classes):
                found.append(f"{where} {name}(code=...)")
        if name in _SENDERS and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.islower()
            for arg in node.args[:2]
        ):
            found.append(f"{where} {name}(<code literal>)")
    return found


def test_no_raise_site_spells_a_code() -> None:
    classes = {cls.__name__ for cls in _kassa_error_classes()}
    assert {"InvalidRequest", "PaymentDeclined", "LoginLocked"} <= classes
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in _literal_codes(path, classes)]
    assert found == []


def test_the_scan_finds_a_code_spelled_at_a_raise_site(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'raise InvalidRequest("x", code="oops")\n'
        "raise Conflict(message, code=some.code)\n"
        'problem(400, "invalid_json", "x")\n'
        'Refusal(400, "invalid_character", "x")\n'
        'OK = declare("fine", InvalidRequest, "declared")\n'
        "raise OK(\"message\", param='x')\n"
    )
    hits = [hit.split(" ", 1)[1] for hit in _literal_codes(bad, {"InvalidRequest", "Conflict"})]
    assert hits == [
        "InvalidRequest(code=...)",
        "Conflict(code=...)",
        "problem(<code literal>)",
        "Refusal(<code literal>)",
    ]


def test_every_error_class_has_its_code_in_the_catalog_at_its_status() -> None:
    for cls in _kassa_error_classes():
        entries = [c for c in all_codes() if c.code == cls.code and issubclass(cls, c.kind)]
        assert entries, f"{cls.__module__}.{cls.__name__} sends {cls.code!r}: declare it"
        assert status_of(cls) in {status_of(c.kind) for c in entries}, cls


def test_every_kind_of_the_catalog_has_a_status_of_its_own() -> None:
    load_every_context()
    listed = {kind for kind, _ in STATUS}
    for entry in all_codes():
        assert any(issubclass(entry.kind, kind) for kind in listed), entry  # not a default 500


def test_one_code_has_one_kind_unless_declared_a_variant() -> None:
    load_every_context()
    with pytest.raises(ValueError, match="declared as InvalidRequest"):
        declare("invalid_json", e.Conflict, "another kind")
    with pytest.raises(ValueError, match="two meanings"):
        declare("invalid_json", e.InvalidRequest, "another meaning")
    kinds = {(c.code, c.kind) for c in all_codes()}
    assert len(kinds) == len(CATALOG)
    twice = sorted({code for code, _ in kinds if sum(k[0] == code for k in kinds) > 1})
    assert twice == ["resource_missing"]  # 404 for an id, 400 for a list cursor


def test_a_provider_refusal_reaches_the_client_only_with_a_catalog_code() -> None:
    load_every_context()
    assert refused_by_provider("invalid_payee").code == "invalid_payee"
    assert refused_by_provider("invalid_payment_method").code == "invalid_payment_method"
    assert refused_by_provider("idempotency_mismatch").code == "idempotency_mismatch"
    assert refused_by_provider("no_adapter_declared_this").code == "provider_rejected"
    assert refused_by_provider(None).code == "provider_rejected"
    assert PermanentProviderError("x").code == "provider_rejected"
    assert find("provider_rejected", e.InvalidRequest) is not None


def test_the_catalog_has_every_code_the_api_sent_before_it() -> None:
    """The codes docs/api.md's table listed when codes were literals: none was lost."""
    load_every_context()
    before = {
        "invalid_request", "invalid_json", "invalid_character", "card_number_refused",
        "parameter_unknown", "parameter_missing", "parameter_conflict", "invalid_amount",
        "amount_must_be_positive", "amount_too_large", "invalid_currency", "currency_mismatch",
        "metadata_invalid", "idempotency_error", "invalid_idempotency_key", "resource_missing",
        "unknown_provider", "provider_test_mode_only", "invalid_payment_method", "invalid_payee",
        "provider_rejected", "payment_method_unusable", "payment_method_customer_mismatch",
        "invalid_webhook_url", "unknown_event_type", "recover_window_exceeded",
        "authentication_required", "authentication_failed", "invalid_api_key",
        "api_key_revoked", "invalid_token", "token_expired", "invalid_credentials",
        "card_declined", "insufficient_scope", "insufficient_role", "account_required",
        "scope_exceeds_own", "livemode_mismatch", "permission_denied", "not_found",
        "method_not_allowed", "conflict", "invalid_state_transition", "idempotency_in_flight",
        "payment_not_capturable", "payment_not_cancelable", "payment_not_refundable",
        "charge_already_refunded", "payment_method_detached", "webhook_endpoint_disabled",
        "job_not_dead", "user_exists", "payload_too_large", "unsupported_media_type",
        "rate_limited", "login_locked", "internal_error", "configuration_error",
        "service_unavailable", "provider_unavailable",
    }  # fmt: skip
    assert sorted(before - set(code_names())) == []
    assert "http_error" not in code_names()


def test_docs_errors_md_is_generated_from_the_catalog(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env["KASSA_VAR_DIR"] = str(tmp_path)
    generated = subprocess.run(
        [sys.executable, "-m", "kassa.api.error_docs"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    load_every_context()
    assert generated == errors_markdown()  # a fresh process loads the same catalog
    assert (ROOT / "docs" / "errors.md").read_text() == generated, (
        "docs/errors.md is out of date: run `python -m kassa.api.error_docs > docs/errors.md`"
    )
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", generated, re.M))
    assert documented == set(code_names())
    for entry in all_codes():  # each code under the heading of its status
        section = generated.split(f"## {status_of(entry.kind)} ", 1)[1].split("\n## ", 1)[0]
        assert f"| `{entry.code}` | {entry.meaning} |" in section, entry


def test_docs_api_md_names_each_status_and_only_catalog_codes() -> None:
    load_every_context()
    docs = (ROOT / "docs" / "api.md").read_text()
    section = docs[docs.index("## Errors") : docs.index("## Ids, times, money")]
    assert "(errors.md)" in section
    rows = re.findall(r"^\| (\d{3}) \| (.*) \|$", section, re.M)
    statuses = {status_of(entry.kind): entry for entry in all_codes()}
    assert sorted(int(status) for status, _ in rows) == sorted(statuses)
    by_status = {status_of(c.kind): set() for c in all_codes()}
    for entry in all_codes():
        by_status[status_of(entry.kind)].add(entry.code)
    for status, when in rows:
        named = set(re.findall(r"`([a-z_]+)`", when)) & set(code_names())  # not field names
        assert named, status  # each status is shown with its codes
        assert named <= by_status[int(status)], (status, named - by_status[int(status)])


async def test_what_the_api_sends_is_a_catalog_code_at_its_status(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    requests = [
        client.get("/nope"),
        client.request("OPTIONS", "/v1/payments", headers=acme.auth),
        client.post("/v1/customers", content=b"a=b", headers={**acme.auth, "Content-Type": "x"}),
        client.post("/v1/customers", content=b"{", headers={**acme.auth, **_JSON}),
        client.post("/v1/customers", content=b"x" * 2_000_000, headers={**acme.auth, **_JSON}),
        client.get("/v1/payments?nope=1", headers=acme.auth),
        client.get("/v1/payments?starting_after=pay_x&ending_before=pay_y", headers=acme.auth),
        client.get("/v1/payments?starting_after=pay_missing", headers=acme.auth),
        client.get("/v1/payments/pay_missing", headers=acme.auth),
        client.get("/v1/payments"),
        client.get("/v1/payments", headers={"Authorization": "Bearer sk_test_wrong"}),
        client.get("/v1/customers?q=%00", headers=acme.auth),
        client.post("/v1/customers", json={"name": "\x00"}, headers=acme.auth),
        client.post("/v1/customers", json={"name": "4242 4242 4242 4242"}, headers=acme.auth),
        client.post("/v1/customers", json={}, headers={**acme.auth, "Idempotency-Key": "k" * 300}),
    ]
    seen = set()
    for pending in requests:
        response = await pending
        body = response.json()
        entries = [c for c in all_codes() if c.code == body["code"]]
        assert entries, body
        assert response.status_code in {status_of(c.kind) for c in entries}, body
        assert body["type"] == f"urn:kassa:error:{body['code']}"
        seen.add(body["code"])
    assert len(seen) >= 12, seen


_JSON = {"Content-Type": "application/json"}
