"""/openapi.json is the contract generated clients rely on: every operation says what it
answers (a response model, its problems, no phantom 422), under an id a client can use, and
the events carry the very objects it documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kassa.api.app import create_app
from kassa.core.error_catalog import code_names
from kassa.core.settings import Settings
from kassa.jobs.catalog import CATALOG
from kassa.payins import events as _events  # declares the pay-in events
from tests.openapi_conformance import OpenApiContract

_ = _events
ROOT = Path(__file__).resolve().parents[2]
_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'unused.db'}",  # never connected to
        var_dir=tmp,
        secret_key="o" * 40,
    )
    schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def test_every_success_is_documented_with_its_schema(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            content = response.get("content") or {}
            assert content, (method, path, status)
            for media, entry in content.items():
                schema = entry.get("schema") or {}
                if media == "application/json":
                    assert "$ref" in schema, (method, path, status, schema)
                else:
                    assert schema == {"type": "string"}, (method, path, media)


def test_payments_document_what_they_answer(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def ref(path: str, method: str, status: str) -> str:
        entry = paths[path][method]["responses"][status]["content"]["application/json"]
        return str(entry["schema"]["$ref"]).rsplit("/", 1)[-1]

    assert ref("/v1/payments", "post", "201") == "PaymentOut"
    assert ref("/v1/payments", "post", "202") == "PaymentOut"  # processing: provider pending
    assert ref("/v1/payments", "get", "200") == "PaymentList"
    assert ref("/v1/payments/{payment_id}/capture", "post", "200") == "PaymentOut"
    assert ref("/v1/payments/{payment_id}/refund", "post", "201") == "RefundOut"
    assert ref("/v1/payment_methods/{method_id}", "delete", "200") == "DeletedPaymentMethodOut"
    assert ref("/v1/customers", "post", "201") == "CustomerOut"
    for path in ("/v1/payments", "/v1/payments/{payment_id}/capture"):
        assert "402" in paths[path]["post"]["responses"], path
    report = paths["/v1/reports/reconciliation"]["get"]["responses"]["200"]["content"]
    assert list(report) == ["text/csv"]
    payment = document["components"]["schemas"]["PaymentOut"]
    assert set(payment["required"]) == set(payment["properties"])  # every field, always


def test_no_operation_documents_the_422_kassa_never_sends(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        assert "422" not in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in str(document)


def test_operation_ids_are_unique_and_read_like_the_api(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", operation_id), operation_id
    assert {
        "create_payment",
        "retrieve_payment",
        "list_payments",
        "capture_payment",
        "cancel_payment",
        "refund_payment",
        "retrieve_refund",
        "list_refunds",
        "create_payment_method",
        "create_customer",
        "create_webhook_endpoint",
        "list_events",
        "reconciliation_report",
    } <= set(ids)


def test_every_post_documents_its_idempotency_key(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        expected = method == "post" and path != "/v1/auth/token"
        assert ("Idempotency-Key" in names) == expected, (method, path)


def test_the_problem_schema_lists_every_code_the_api_sends(document: dict[str, Any]) -> None:
    """Every code is in the error catalog (tests/api/test_error_catalog.py refuses a code
    spelled at a raise site), and the schema lists exactly the catalog's."""
    listed = document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    assert listed == code_names()
    assert len(listed) > 60
    refusals = {"invalid_payment_method", "invalid_payee", "idempotency_mismatch"}
    assert set(listed) >= refusals | {"provider_rejected"}  # a provider's refusal passes through


def test_event_examples_are_the_documented_objects(document: dict[str, Any]) -> None:
    """Webhook events carry the API's own models: every catalog example (built by the code
    that builds the events) is a valid instance of the schema GET documents."""
    contract = OpenApiContract(document)
    checked = 0
    for name, event_type in CATALOG.items():
        component = {"payment": "PaymentOut", "refund": "RefundOut"}.get(name.split(".")[0])
        if component is None:
            continue
        assert contract.component_errors(component, event_type.example) == [], name
        checked += 1
    assert checked >= 10
