"""Payments use the credentials of their account: its own for the provider's kind and mode,
else the install's, else they are refused before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kassa.providers.breakers import BreakerKey, CallScope
from kassa.providers.credentials import DEFAULT
from kassa.providers.registry import ProviderRegistry
from tests.accounts.credentials_kit import (
    FAKEPAY,
    RecordingMock,
    Served,
    fakepay_kind,
    mock_fields,
    serve,
)
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.payins.conftest import pay

CREDENTIALS = "/v1/provider_credentials"


async def _credentials(s: Served, owner: Merchant, kind: str = "mock", tail: str = "4242") -> str:
    response = await s.client.post(
        CREDENTIALS, headers=owner.auth, json={"kind": kind, "fields": mock_fields(tail=tail)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _registry(s: Served) -> ProviderRegistry:
    from kassa.api.routes._payins_common import providers

    class _Request:  # what the payins routes hand the dependency
        app = s.app

    return providers(_Request())  # type: ignore[arg-type]


async def _live_key(db: Backend, account_id: str) -> tuple[str, str]:
    from kassa.accounts.api_keys import create_api_key
    from kassa.core.db import transaction

    async with transaction(db.sessions) as session:
        issued = await create_api_key(session, account_id=account_id, livemode=True)
    return issued.secret, issued.api_key.id


async def _payments(s: Served, owner: Merchant) -> list[dict[str, Any]]:
    listed = await s.client.get("/v1/payments", headers=owner.auth, params={"limit": 100})
    data: list[dict[str, Any]] = listed.json()["data"]
    return data


async def test_each_account_pays_with_its_own_credentials_and_breaker(
    db: Backend, tmp_path: Path
) -> None:
    async with serve(db, tmp_path, provider_retry_attempts=1, circuit_failure_threshold=2) as s:
        a = await merchant(db.sessions, name="A")
        b = await merchant(db.sessions, name="B")
        c = await merchant(db.sessions, name="C")  # brings none: the install's mock
        a_pcr = await _credentials(s, a, tail="1111")
        b_pcr = await _credentials(s, b, tail="2222")
        registry = _registry(s)
        for owner, expected in ((a, a_pcr), (b, b_pcr), (c, DEFAULT)):
            resolved = await registry.resolve("mock", CallScope(owner.account_id, False))
            assert resolved.credentials.id == expected
        # A's provider fails twice: A's own circuit opens, nobody else's does.
        for _ in range(2):
            failed = await pay(s.client, a.auth, token="pm_card_providerDown")
            assert failed.status_code == 503
        assert registry.breakers.get(BreakerKey("mock", a_pcr, False)).state == "open"
        refused = await pay(s.client, a.auth)
        assert refused.status_code == 503
        assert refused.json()["reason"] == "circuit_open"
        assert len(await _payments(s, a)) == 2  # the refused one was never written
        for other in (b, c):
            ok = await pay(s.client, other.auth)
            assert ok.status_code == 201 and ok.json()["status"] == "succeeded", ok.text
        assert registry.breakers.get(BreakerKey("mock", b_pcr, False)).state == "closed"
        assert registry.breakers.get(BreakerKey("mock", "default", False, c.account_id)).state == (
            "closed"
        )
        # Deleting A's credentials: its next payment goes through the install's mock, with
        # the install's (closed) test-mode circuit of A.
        deleted = await s.client.delete(f"{CREDENTIALS}/{a_pcr}", headers=a.auth)
        assert deleted.status_code == 200
        resolved = await registry.resolve("mock", CallScope(a.account_id, False))
        assert resolved.credentials.id == DEFAULT
        again = await pay(s.client, a.auth)
        assert again.status_code == 201 and again.json()["status"] == "succeeded", again.text


async def test_a_provider_only_accounts_bring_credentials_for(db: Backend, tmp_path: Path) -> None:
    with fakepay_kind():
        async with serve(db, tmp_path, providers_enabled=FAKEPAY) as s:
            a = await merchant(db.sessions, name="A")
            b = await merchant(db.sessions, name="B")
            a_pcr = await _credentials(s, a, kind=FAKEPAY, tail="1111")
            b_pcr = await _credentials(s, b, kind=FAKEPAY, tail="2222")
            paid = {}
            for owner in (a, b):
                response = await pay(s.client, owner.auth, provider=FAKEPAY)
                assert response.status_code == 201, response.text
                paid[owner.account_id] = response.json()["id"]
            calls = {key: (pcr, secret[-4:]) for pcr, secret, key in RecordingMock.calls}
            assert calls == {
                f"{paid[a.account_id]}/authorize": (a_pcr, "1111"),
                f"{paid[b.account_id]}/authorize": (b_pcr, "2222"),
            }
            # Rotating A's secret: the next call is made with the new one.
            rotated = await s.client.post(
                f"{CREDENTIALS}/{a_pcr}",
                headers=a.auth,
                json={"fields": mock_fields(tail="3333")},
            )
            assert rotated.status_code == 200
            response = await pay(s.client, a.auth, provider=FAKEPAY)
            assert RecordingMock.calls[-1][:2] == (a_pcr, mock_fields(tail="3333")["secret_key"])
            assert response.status_code == 201
            # Without credentials (never had any, or deleted): refused, nothing written.
            c = await merchant(db.sessions, name="C")
            await s.client.delete(f"{CREDENTIALS}/{a_pcr}", headers=a.auth)
            for owner in (a, c):
                before = len(await _payments(s, owner))
                refused = await pay(s.client, owner.auth, provider=FAKEPAY)
                assert refused.status_code == 400, refused.text
                problem = refused.json()
                assert problem["code"] == "provider_not_configured"
                assert problem["provider"] == FAKEPAY and problem["livemode"] is False
                assert "test-mode credentials of 'fakepay'" in problem["detail"]
                assert len(await _payments(s, owner)) == before
            assert len(RecordingMock.calls) == 3


async def test_failover_goes_only_to_providers_the_account_has_credentials_for(
    db: Backend, tmp_path: Path
) -> None:
    with fakepay_kind():
        async with serve(
            db, tmp_path, provider_failover=f"mock,{FAKEPAY}", provider_retry_attempts=1
        ) as s:
            a = await merchant(db.sessions, name="A")
            b = await merchant(db.sessions, name="B")
            await _credentials(s, a, kind=FAKEPAY)
            moved = await pay(s.client, a.auth, token="pm_card_rateLimit_on_mock")
            assert moved.status_code == 201 and moved.json()["provider"] == FAKEPAY
            stuck = await pay(s.client, b.auth, token="pm_card_rateLimit_on_mock")
            assert stuck.status_code == 503  # no fakepay credentials: nowhere to go
            (made,) = await _payments(s, b)
            tried = {x["provider"] for x in made["attempts"]}
            assert tried == {"mock"}, made["attempts"]


async def test_credentials_of_the_other_mode_do_not_serve(db: Backend, tmp_path: Path) -> None:
    with fakepay_kind():
        async with serve(db, tmp_path, providers_enabled=FAKEPAY) as s:
            owner = await merchant(db.sessions, name="Both")
            await _credentials(s, owner, kind=FAKEPAY)  # test-mode credentials
            live = Merchant(owner.account_id, *(await _live_key(db, owner.account_id)))
            refused = await pay(s.client, live.auth, provider=FAKEPAY)
            assert refused.status_code == 400
            assert refused.json()["code"] == "provider_not_configured"
            assert refused.json()["livemode"] is True
