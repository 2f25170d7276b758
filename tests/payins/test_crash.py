"""THE crash test: the API process dies between "intent committed" and "provider answered".

A real ``python -m kassa serve`` takes a payment whose provider answer is slow
(``pm_card_delay_<ms>``); once the intent is on disk and the charge reached the provider, the
process is SIGKILLed. Reconciliation then asks the provider with the same key and settles the
payment as succeeded, and the records show one provider charge for that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kassa.core.db import transaction
from kassa.payins.models import Payment, PaymentAttempt
from kassa.payins.reconcile import reconcile
from kassa.providers.mock.scenarios import stable_id
from kassa.providers.registry import build_registry
from tests.conftest import Backend
from tests.factories import merchant
from tests.helpers import ROOT, free_port, kassa_env
from tests.payins.conftest import mock_ledger

pytestmark = pytest.mark.slow


async def _wait_until(check: object, what: str, tries: int = 300) -> object:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    for _ in range(tries):
        value = await check()  # type: ignore[operator]
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def test_killed_between_intent_and_answer_is_settled_by_reconciliation(
    db: Backend, tmp_path: Path
) -> None:
    acme = await merchant(db.sessions)
    port = free_port()
    env = kassa_env(
        KASSA_DATABASE_URL=db.url,
        KASSA_PORT=str(port),
        KASSA_VAR_DIR=str(tmp_path),
        KASSA_SECRET_KEY="crash-test-" + "x" * 40,
        KASSA_RATE_LIMIT_PER_KEY="0",
        KASSA_RATE_LIMIT_PER_IP="0",
        KASSA_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "kassa", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:

            async def up() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/health")).status_code in (200, 503)
                return False

            await _wait_until(up, "the server to start", tries=1800)  # 90 s: a loaded machine
            request = asyncio.create_task(
                http.post(
                    "/v1/payments",
                    json={
                        "amount": {"value": "42.00", "currency": "USD"},
                        "payment_method": "pm_card_delay_60000",
                    },
                    headers={**acme.auth, "Idempotency-Key": "crash-1"},
                    timeout=120,
                )
            )

            async def intent() -> Payment | None:
                async with db.sessions() as s:
                    return await s.scalar(select(Payment).where(Payment.status == "processing"))

            payment = await _wait_until(intent, "the intent to be committed")
            assert isinstance(payment, Payment)

            async def sent() -> bool:  # the provider received the charge (its own record)
                return mock_ledger(tmp_path).charge_count(f"{payment.id}/authorize") == 1

            await _wait_until(sent, "the charge to reach the provider")
            server.send_signal(signal.SIGKILL)  # the provider has not answered yet
            server.wait(timeout=10)
            with pytest.raises(httpx.TransportError):
                await request
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)

    key = f"{payment.id}/authorize"
    assert payment.idempotency_key == key
    async with db.sessions() as s:
        assert (await s.scalars(select(PaymentAttempt))).all() == []  # it never answered

    registry = build_registry(db.settings(tmp_path))
    report = await reconcile(db.sessions, registry, older_than=timedelta(0))
    assert report.settled == [payment.id]
    async with transaction(db.sessions) as s:
        settled = await s.get(Payment, payment.id)
        assert settled is not None
        assert settled.status == "succeeded"
        assert settled.amount_captured == 4200
        assert settled.provider_payment_id == stable_id("mockpi", "mock", key)
        attempts = (
            await s.scalars(select(PaymentAttempt).where(PaymentAttempt.payment_id == payment.id))
        ).all()
    # One charge for the key: the killed process's call; reconciliation only looked it up.
    assert [(a.operation, a.idempotency_key) for a in attempts] == [("lookup", key)]
    assert mock_ledger(tmp_path).charge_count(key) == 1
    assert mock_ledger(tmp_path).calls("authorize", key) == 1
    again = await reconcile(db.sessions, registry, older_than=timedelta(0))
    assert again.settled == []
