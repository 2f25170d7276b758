"""A client generated from the served /openapi.json works against a real `kassa serve`.

openapi-python-client builds a typed Python package from the document alone (offline); the
test imports it and pays, captures part, refunds part, lists, and meets a decline (402) and a
missing payment (404) through it, reading typed fields. A response the document describes
wrongly fails here: the generated code parses every answer by its documented schema."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import merchant
from tests.helpers import ROOT, free_port, kassa_env

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "kassa_client"
CONFIG = f"""post_hooks: []
project_name_override: kassa-client
package_name_override: {PACKAGE}
"""


@pytest.fixture
def server(db: Backend, tmp_path: Path) -> Iterator[str]:
    """`kassa serve` on a free port, on the test's database (SQLite file or PostgreSQL)."""
    port = free_port()
    env = kassa_env(
        KASSA_DATABASE_URL=db.url,
        KASSA_PORT=str(port),
        KASSA_SECRET_KEY="g" * 40,
        KASSA_VAR_DIR=str(tmp_path / "var"),
        KASSA_RATE_LIMIT_PER_KEY="0",
        KASSA_RATE_LIMIT_PER_IP="0",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
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
            if process.poll() is not None or time.monotonic() > deadline:
                _, stderr = process.communicate(timeout=5)
                raise AssertionError(f"kassa serve did not start:\n{stderr[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _generate(base: str, folder: Path) -> ModuleType:
    """The package openapi-python-client makes of the served document, imported."""
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{base}/openapi.json", timeout=10).content)
    config = folder / "generator.yaml"
    config.write_text(CONFIG)
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # The generator warns about what it cannot type; a truthful document leaves nothing.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]  # the other backend's run generated one too
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_pays_captures_refunds_lists_and_reads_problems(
    server: str, db: Backend, tmp_path: Path
) -> None:
    client_package = _generate(server, tmp_path)
    acme = await merchant(db.sessions)
    payments = "api.payments"
    create_payment = _module(f"{payments}.create_payment")
    capture_payment = _module(f"{payments}.capture_payment")
    refund_payment = _module(f"{payments}.refund_payment")
    list_payments = _module(f"{payments}.list_payments")
    retrieve_payment = _module(f"{payments}.retrieve_payment")
    models = _module("models")

    with client_package.AuthenticatedClient(base_url=server, token=acme.key) as client:
        created = create_payment.sync_detailed(
            client=client,
            body=models.PaymentCreate(
                amount=models.AmountIn(value="100.00", currency="USD"),
                payment_method="pm_card_visa",
                capture=False,
                metadata=models.PaymentCreateMetadataType0.from_dict({"order_id": "1042"}),
            ),
            idempotency_key="generated-client-1",
        )
        assert created.status_code == 201, created.content
        payment = created.parsed
        assert isinstance(payment, models.PaymentOut)
        assert payment.status == models.PaymentOutStatus.REQUIRES_CAPTURE
        assert payment.amount_capturable.value == "100.00"
        assert payment.payment_method.type_ == models.PaymentMethodSummaryOutType.CARD
        assert payment.payment_method.card.last4 == "4242"
        assert payment.metadata["order_id"] == "1042"
        assert [a.operation for a in payment.attempts] == ["authorize"]

        captured = capture_payment.sync(
            payment.id,
            client=client,
            body=models.CaptureIn(amount_to_capture=models.AmountIn(value="60.00", currency="USD")),
        )
        assert isinstance(captured, models.PaymentOut), captured
        assert captured.status == models.PaymentOutStatus.SUCCEEDED
        assert captured.amount_captured.value == "60.00"
        assert captured.amount_captured.currency == "USD"

        refunded = refund_payment.sync(
            payment.id,
            client=client,
            body=models.RefundIn(amount=models.AmountIn(value="25.00", currency="USD")),
        )
        assert isinstance(refunded, models.RefundOut), refunded
        assert refunded.status == models.RefundOutStatus.SUCCEEDED
        assert refunded.amount.value == "25.00"
        assert refunded.payment_id == payment.id

        listed = list_payments.sync(client=client, limit=10)
        assert isinstance(listed, models.PaymentList), listed
        assert [p.id for p in listed.data] == [payment.id]
        assert listed.data[0].status == models.PaymentOutStatus.PARTIALLY_REFUNDED
        assert listed.data[0].amount_refunded.value == "25.00"
        assert listed.has_more is False

        declined = create_payment.sync_detailed(
            client=client,
            body=models.PaymentCreate(
                amount=models.AmountIn(value="20.00", currency="USD"),
                payment_method="pm_card_chargeDeclined",
            ),
        )
        assert declined.status_code == 402
        problem = declined.parsed
        assert isinstance(problem, models.Problem), problem
        assert problem.code == models.ProblemCode.CARD_DECLINED
        assert isinstance(problem.payment, models.PaymentOut)
        assert problem.payment.status == models.PaymentOutStatus.FAILED
        assert problem.payment_id == problem.payment.id
        assert problem.request_id

        missing = retrieve_payment.sync_detailed("pay_missing", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem)
        assert missing.parsed.code == models.ProblemCode.RESOURCE_MISSING
