"""Payments through the HTTP API: create, capture, cancel, refund, reads, bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.core.audit import AuditEntry
from kassa.jobs.models import Event
from kassa.payins.models import Payment, PaymentAttempt, Refund
from tests.conftest import Backend
from tests.factories import Merchant, merchant
from tests.payins.conftest import pay


async def _counts(db: Backend) -> tuple[int, ...]:
    async with db.sessions() as s:
        return tuple(
            [
                await s.scalar(select(func.count()).select_from(model)) or 0
                for model in (Payment, Refund, PaymentAttempt, Event, AuditEntry)
            ]
        )


async def _payment(client: httpx.AsyncClient, m: Merchant, pid: str) -> dict[str, Any]:
    response = await client.get(f"/v1/payments/{pid}", headers=m.auth)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def _event_types(db: Backend, payment_id: str) -> list[str]:
    async with db.sessions() as s:
        rows = await s.scalars(select(Event).order_by(Event.created_at))
        return [e.type for e in rows if e.data.get("id") == payment_id]


async def test_create_charges_and_shows_the_seed_shape(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(
        client,
        acme.auth,
        description="TradeSense Pro Subscription",
        metadata={"plan": "pro_monthly"},
        confirmation_method="automatic",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("pay_") and body["object"] == "payment"
    assert body["status"] == "succeeded"
    assert body["amount"] == {"value": "100.00", "currency": "USD"}
    assert body["amount_captured"] == {"value": "100.00", "currency": "USD"}
    assert body["payment_method"]["card"] == {
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
    }
    assert body["provider"] == "mock" and body["provider_payment_id"].startswith("mockpi_")
    assert body["livemode"] is False and body["created_at"].endswith("Z")
    assert [a["outcome"] for a in body["attempts"]] == ["succeeded"]
    assert body["attempts"][0]["idempotency_key"] == f"{body['id']}/authorize"
    assert await _event_types(db, body["id"]) == [
        "payment.created",
        "payment.processing",
        "payment.succeeded",
    ]
    assert await _payment(client, acme, body["id"]) == body


async def test_authorize_then_partial_capture_then_refunds(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    created = (await pay(client, acme.auth, value="50.00", capture=False)).json()
    assert created["status"] == "requires_capture"
    assert created["amount_capturable"]["value"] == "50.00"
    pid = created["id"]

    too_much = await client.post(
        f"/v1/payments/{pid}/capture",
        json={"amount_to_capture": {"value": "50.01", "currency": "USD"}},
        headers=acme.auth,
    )
    assert too_much.status_code == 400 and too_much.json()["code"] == "amount_too_large"
    other_currency = await client.post(
        f"/v1/payments/{pid}/capture",
        json={"amount_to_capture": {"value": "10.00", "currency": "EUR"}},
        headers=acme.auth,
    )
    assert other_currency.status_code == 400
    assert other_currency.json()["code"] == "currency_mismatch"
    assert other_currency.json()["param"] == "amount_to_capture.currency"
    assert (await _payment(client, acme, pid))["status"] == "requires_capture"

    captured = await client.post(
        f"/v1/payments/{pid}/capture",
        json={"amount_to_capture": {"value": "40.00", "currency": "USD"}},
        headers=acme.auth,
    )
    assert captured.status_code == 200
    assert captured.json()["status"] == "succeeded"
    assert captured.json()["amount_captured"]["value"] == "40.00"
    assert captured.json()["amount_capturable"]["value"] == "0.00"

    first = await client.post(
        f"/v1/payments/{pid}/refund",
        json={"amount": {"value": "15.00", "currency": "USD"}, "reason": "requested_by_customer"},
        headers=acme.auth,
    )
    assert first.status_code == 201 and first.json()["status"] == "succeeded"
    assert first.json()["id"].startswith("re_")
    assert (await _payment(client, acme, pid))["status"] == "partially_refunded"

    over = await client.post(
        f"/v1/payments/{pid}/refund",
        json={"amount": {"value": "25.01", "currency": "USD"}},
        headers=acme.auth,
    )
    assert over.status_code == 400 and over.json()["code"] == "amount_too_large"

    rest = await client.post(f"/v1/payments/{pid}/refund", headers=acme.auth)
    assert rest.status_code == 201 and rest.json()["amount"]["value"] == "25.00"
    final = await _payment(client, acme, pid)
    assert final["status"] == "refunded" and final["amount_refunded"]["value"] == "40.00"
    again = await client.post(f"/v1/payments/{pid}/refund", headers=acme.auth)
    assert again.status_code == 409 and again.json()["code"] == "charge_already_refunded"

    listed = await client.get(f"/v1/refunds?payment_id={pid}", headers=acme.auth)
    assert [r["amount"]["value"] for r in listed.json()["data"]] == ["25.00", "15.00"]
    one = await client.get(f"/v1/refunds/{first.json()['id']}", headers=acme.auth)
    assert one.json() == first.json() | {"updated_at": one.json()["updated_at"]}
    types = await _event_types(db, pid)
    assert types.count("payment.refunded") == 2
    async with db.sessions() as s:
        refund_events = (
            await s.scalars(select(Event.type).where(Event.type.like("refund.%")))
        ).all()
    assert sorted(refund_events) == sorted(["refund.created", "refund.succeeded"] * 2)


async def test_cancel_releases_an_authorization_but_not_a_capture(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    held = (await pay(client, acme.auth, capture=False)).json()
    canceled = await client.post(f"/v1/payments/{held['id']}/cancel", headers=acme.auth)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled" and canceled.json()["canceled_at"]
    assert [a["operation"] for a in canceled.json()["attempts"]] == ["authorize", "cancel"]

    charged = (await pay(client, acme.auth)).json()
    before = await _counts(db)
    refused = await client.post(f"/v1/payments/{charged['id']}/cancel", headers=acme.auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment_not_cancelable"
    assert "refund" in refused.json()["detail"]
    assert await _counts(db) == before
    capture_canceled = await client.post(f"/v1/payments/{held['id']}/capture", headers=acme.auth)
    assert capture_canceled.json()["code"] == "payment_not_capturable"


async def test_a_decline_is_a_402_and_a_failed_payment(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    response = await pay(client, acme.auth, token="pm_card_insufficientFunds")
    assert response.status_code == 402
    problem = response.json()
    assert problem["code"] == "card_declined"
    assert problem["decline_code"] == "insufficient_funds"
    payment = await _payment(client, acme, problem["payment_id"])
    assert payment["status"] == "failed"
    assert payment["failure_code"] == "card_declined"
    assert payment["decline_code"] == "insufficient_funds"
    assert payment["payment_method"]["type"] == "card"  # which card was declined
    assert payment["payment_method"]["card"]["last4"]
    assert await _event_types(db, payment["id"]) == [
        "payment.created",
        "payment.processing",
        "payment.failed",
    ]


@pytest.mark.parametrize(
    ("amount", "code", "param"),
    [
        ({"value": "0.00", "currency": "USD"}, "amount_must_be_positive", "amount.value"),
        ({"value": "-5.00", "currency": "USD"}, "amount_must_be_positive", "amount.value"),
        ({"value": "10.001", "currency": "USD"}, "invalid_amount", "amount.value"),
        ({"value": "100.5", "currency": "JPY"}, "invalid_amount", "amount.value"),
        ({"value": "10.00", "currency": "XYZ"}, "invalid_currency", "amount.currency"),
        ({"value": "1e3", "currency": "USD"}, "invalid_amount", "amount.value"),
        ({"value": 10.5, "currency": "USD"}, "invalid_request", "amount.value"),
        (
            {"value": "99999999999999999999999.00", "currency": "USD"},
            "amount_too_large",
            "amount.value",
        ),
    ],
)
async def test_bad_amounts_change_nothing(
    client: httpx.AsyncClient, db: Backend, amount: dict[str, Any], code: str, param: str
) -> None:
    acme = await merchant(db.sessions)
    before = await _counts(db)
    response = await client.post(
        "/v1/payments", json={"amount": amount, "payment_method": "pm_card_visa"}, headers=acme.auth
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["param"] == param
    assert await _counts(db) == before


@pytest.mark.parametrize(
    ("extra", "code", "param"),
    [
        ({"payment_method": None}, "parameter_missing", "payment_method"),
        (
            {"payment_method": None, "payment_method_id": "pm_01JD2X8Q0Y3V7K2M4N6P8R0T2W"},
            "resource_missing",
            "payment_method_id",
        ),
        # both a token and a saved method: which one to charge is ambiguous
        (
            {"payment_method_id": "pm_01JD2X8Q0Y3V7K2M4N6P8R0T2W"},
            "parameter_conflict",
            "payment_method",
        ),
        ({"customer_id": "cus_01JD2X8Q0Y3V7K2M4N6P8R0T2W"}, "resource_missing", "customer_id"),
        ({"provider": "nope"}, "unknown_provider", "provider"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata_invalid", "metadata"),
        ({"metadata": {"k" * 41: "v"}}, "metadata_invalid", "metadata"),
        ({"metadata": {"k": "v" * 501}}, "metadata_invalid", "metadata.k"),
        ({"surprise": 1}, "invalid_request", "surprise"),
    ],
)
async def test_bad_requests_change_nothing(
    client: httpx.AsyncClient, db: Backend, extra: dict[str, Any], code: str, param: str
) -> None:
    acme = await merchant(db.sessions)
    before = await _counts(db)
    body = {"amount": {"value": "1.00", "currency": "USD"}, "payment_method": "pm_card_visa"}
    body.update(extra)
    response = await client.post("/v1/payments", json=body, headers=acme.auth)
    assert response.status_code in (400, 404)
    assert response.json()["code"] == code
    assert response.json()["param"] == param
    assert await _counts(db) == before


async def test_refunds_need_captured_payments_and_the_refund_scope(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    held = (await pay(client, acme.auth, capture=False)).json()
    before = await _counts(db)
    early = await client.post(f"/v1/payments/{held['id']}/refund", headers=acme.auth)
    assert early.status_code == 409 and early.json()["code"] == "payment_not_refundable"
    writer = await merchant(db.sessions, "Writer", scopes=("read", "write"))
    mine = (await pay(client, writer.auth)).json()
    no_scope = await client.post(f"/v1/payments/{mine['id']}/refund", headers=writer.auth)
    assert no_scope.status_code == 403 and no_scope.json()["code"] == "insufficient_scope"
    reader = await merchant(db.sessions, "Reader", scopes=("read",))
    assert (await pay(client, reader.auth)).status_code == 403
    assert (await client.get("/v1/payments", headers=reader.auth)).status_code == 200
    zero = await client.post(
        f"/v1/payments/{mine['id']}/refund",
        json={"amount": {"value": "0", "currency": "USD"}},
        headers=acme.auth,
    )
    assert zero.status_code == 404  # another account's payment does not exist for acme
    assert (await _counts(db))[1] == before[1]


async def test_other_accounts_objects_are_404(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions, "Acme")
    globex = await merchant(db.sessions, "Globex")
    theirs = (await pay(client, acme.auth, capture=False)).json()
    for method, path in [
        ("GET", f"/v1/payments/{theirs['id']}"),
        ("POST", f"/v1/payments/{theirs['id']}/capture"),
        ("POST", f"/v1/payments/{theirs['id']}/cancel"),
        ("POST", f"/v1/payments/{theirs['id']}/refund"),
    ]:
        response = await client.request(method, path, headers=globex.auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "resource_missing"
    listed = await client.get("/v1/payments", headers=globex.auth)
    assert listed.json()["data"] == []
    assert (await _payment(client, acme, theirs["id"]))["status"] == "requires_capture"
    live = await merchant(db.sessions, "Acme live", livemode=True)
    assert (await client.get(f"/v1/payments/{theirs['id']}", headers=live.auth)).status_code == 404


async def test_list_filters_and_cursor_pagination(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    ids = []
    for i in range(5):
        response = await pay(client, acme.auth, value=f"{i + 1}.00", capture=i % 2 == 0)
        ids.append(response.json()["id"])
    await pay(client, acme.auth, token="pm_card_chargeDeclined")
    page1 = (await client.get("/v1/payments?limit=2", headers=acme.auth)).json()
    assert page1["object"] == "list" and page1["has_more"] is True
    seen = [p["id"] for p in page1["data"]]
    cursor = seen[-1]
    while True:
        page = (
            await client.get(f"/v1/payments?limit=2&starting_after={cursor}", headers=acme.auth)
        ).json()
        seen += [p["id"] for p in page["data"]]
        if not page["has_more"]:
            break
        cursor = seen[-1]
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)
    held = (await client.get("/v1/payments?status=requires_capture", headers=acme.auth)).json()
    assert sorted(p["id"] for p in held["data"]) == sorted([ids[1], ids[3]])
    failed = (await client.get("/v1/payments?status=failed", headers=acme.auth)).json()
    assert len(failed["data"]) == 1
    bad = await client.get("/v1/payments?status=weird", headers=acme.auth)
    assert bad.status_code == 400 and bad.json()["param"] == "status"
    typo = await client.get("/v1/payments?customer=cus_x", headers=acme.auth)
    assert typo.status_code == 400 and typo.json()["code"] == "parameter_unknown"
    assert typo.json()["param"] == "customer" and "customer_id" in typo.json()["detail"]
    backwards = await client.get(f"/v1/payments?limit=2&ending_before={ids[0]}", headers=acme.auth)
    assert [p["id"] for p in backwards.json()["data"]] == [ids[2], ids[1]]  # just before ids[0]
    assert backwards.json()["has_more"] is True
    lost = await client.get("/v1/payments?starting_after=pay_doesnotexist", headers=acme.auth)
    assert lost.status_code == 400 and lost.json()["code"] == "resource_missing"
    assert lost.json()["param"] == "starting_after"
    created = (await _payment(client, acme, ids[2]))["created_at"]
    window = (
        await client.get(
            "/v1/payments",
            params={"created_gte": created, "created_lte": created},
            headers=acme.auth,
        )
    ).json()
    assert [p["id"] for p in window["data"]] == [ids[2]]


async def test_idempotency_key_replays_the_payment(client: httpx.AsyncClient, db: Backend) -> None:
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-42"}
    body = {"amount": {"value": "9.99", "currency": "EUR"}, "payment_method": "pm_card_visa"}
    first = await client.post("/v1/payments", json=body, headers=headers)
    second = await client.post("/v1/payments", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    # On PostgreSQL the response is stored by the payment's own result statement: the replay
    # must still be the very same bytes with the same content type.
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert (await _counts(db))[0] == 1


async def test_a_retry_after_a_crashed_request_resumes_its_payment_instead_of_charging_again(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """The process died after the payment was written but before the response was stored:
    the retry (after the claim's lock timeout) must find that payment, not create a second."""
    from datetime import timedelta

    from sqlalchemy import update

    from kassa.accounts.idempotency import IN_FLIGHT, IdempotencyKey
    from kassa.core import clock
    from kassa.payins.state import PROCESSING

    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-1001"}
    first = await pay(client, headers)
    assert first.status_code == 201
    payment_id = first.json()["id"]
    stale = clock.now() - timedelta(minutes=5)
    async with db.sessions() as s, s.begin():
        # as if the process died: the key still in flight, the payment still processing
        await s.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "order-1001")
            .values(
                status=IN_FLIGHT,
                response_status=None,
                response_body=None,
                response_headers=None,
                locked_at=stale,
                created_at=stale,
            )
        )
        await s.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(status=PROCESSING, pending_operation="authorize", amount_captured=0)
        )
    retry = await pay(client, headers)
    assert retry.status_code == 201
    assert retry.json()["id"] == payment_id
    assert retry.json()["status"] == "succeeded"
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 1
    replay = await pay(client, headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == payment_id


async def test_body_idempotency_key_deduplicates_like_the_header(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """Seed 004's request shape carries the key in the body: a client sending it there must
    get the same protection as one sending the header."""
    acme = await merchant(db.sessions)
    body = {
        "idempotency_key": "7d0c6f0e-body-key",
        "amount": {"value": "5.00", "currency": "USD"},
        "payment_method": "pm_card_visa",
    }
    first = await client.post("/v1/payments", json=body, headers=acme.auth)
    second = await client.post("/v1/payments", json=body, headers=acme.auth)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    same_as_header = await client.post(
        "/v1/payments", json=body, headers={**acme.auth, "Idempotency-Key": "7d0c6f0e-body-key"}
    )
    assert same_as_header.json()["id"] == first.json()["id"]
    different = await client.post(
        "/v1/payments", json=body, headers={**acme.auth, "Idempotency-Key": "another"}
    )
    assert different.status_code == 400
    assert different.json()["code"] == "invalid_idempotency_key"
    anonymous = await client.post("/v1/payments", json=body, headers={"Idempotency-Key": "x"})
    assert anonymous.status_code == 401  # who you are comes before what you sent
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 1


async def test_an_unexpected_error_after_the_intent_keeps_the_key_and_the_retry_resumes(
    client: httpx.AsyncClient, db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider charged, then recording the answer failed (say the database dropped the
    connection). Freeing the key would let the client's retry create and charge a second
    payment; instead the key stays claimed and the retry after the lock timeout resumes the
    first payment, which the provider answers with the same charge."""
    from datetime import timedelta

    from kassa.core import clock
    from kassa.payins import create_payment

    frozen = clock.FrozenClock()
    clock.install(frozen)
    real = create_payment.settle_authorization
    failures = [RuntimeError("connection lost while recording")]

    def flaky(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args, **kwargs)

    monkeypatch.setattr(create_payment, "settle_authorization", flaky)
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-7"}
    crashed = await pay(client, headers)
    assert crashed.status_code == 500 and "Traceback" not in crashed.text
    busy = await pay(client, headers)
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_flight"
    frozen.advance(timedelta(seconds=61))
    retry = await pay(client, headers)
    assert retry.status_code == 201, retry.text
    async with db.sessions() as s:
        [payment] = (await s.scalars(select(Payment))).all()
        attempts = (await s.scalars(select(PaymentAttempt))).all()
    assert retry.json()["id"] == payment.id and payment.status == "succeeded"
    # every provider call for it used the one key, so it was one charge
    assert {a.idempotency_key for a in attempts} == {f"{payment.id}/authorize"}


async def test_a_partial_refund_whose_recording_failed_is_resumed_not_made_twice(
    client: httpx.AsyncClient, db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider refunded, then recording it failed. The retry (after the key's lock
    timeout) must resume that refund with the same provider key, not refund again."""
    from datetime import timedelta

    from kassa.core import clock
    from kassa.payins import refund as refunds

    frozen = clock.FrozenClock()
    clock.install(frozen)
    acme = await merchant(db.sessions)
    paid = await pay(client, {**acme.auth, "Idempotency-Key": "order-8"}, value="100.00")
    real = refunds.settle
    failures = [RuntimeError("connection lost while recording")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(refunds, "settle", flaky)
    url = f"/v1/payments/{paid.json()['id']}/refund"
    headers = {**acme.auth, "Idempotency-Key": "refund-8"}
    body = {"amount": {"value": "30.00", "currency": "USD"}}
    crashed = await client.post(url, json=body, headers=headers)
    assert crashed.status_code == 500
    frozen.advance(timedelta(seconds=61))
    retry = await client.post(url, json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.json()["status"] == "succeeded"
    async with db.sessions() as s:
        [refund] = (await s.scalars(select(Refund))).all()
        payment = await s.get(Payment, paid.json()["id"])
    assert retry.json()["id"] == refund.id
    assert payment is not None and payment.amount_refunded == 3000
    assert payment.amount_refund_pending == 0


async def test_live_keys_never_pay_through_the_simulating_mock(
    client: httpx.AsyncClient, db: Backend
) -> None:
    """Like Stripe refusing test cards for live keys: a live payment on the mock provider would
    say 'succeeded' while no money moved."""
    live = await merchant(db.sessions, "Acme live", livemode=True)
    before = await _counts(db)
    refused = await pay(client, {**live.auth, "Idempotency-Key": "live-1"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "provider_test_mode_only"
    assert "PAYMENT_PROVIDER" in refused.json()["detail"]
    assert await _counts(db) == before


async def test_an_error_before_anything_was_written_frees_the_key_at_once(
    client: httpx.AsyncClient, db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only work that exists holds a key: a failure before the intent lets the retry run now."""
    from kassa.payins import create_payment

    real = create_payment.intend
    failures = [RuntimeError("database refused the intent")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(create_payment, "intend", flaky)
    acme = await merchant(db.sessions)
    headers = {**acme.auth, "Idempotency-Key": "order-9"}
    assert (await pay(client, headers)).status_code == 500
    retry = await pay(client, headers)
    assert retry.status_code == 201, retry.text
    assert (await _counts(db))[0] == 1


async def test_a_token_and_a_saved_method_together_are_refused_and_free_the_key(
    client: httpx.AsyncClient, db: Backend
) -> None:
    acme = await merchant(db.sessions)
    saved = await client.post(
        "/v1/payment_methods", json={"token": "pm_card_mastercard"}, headers=acme.auth
    )
    headers = {**acme.auth, "Idempotency-Key": "order-both"}
    body = {"amount": {"value": "5.00", "currency": "USD"}, "payment_method_id": saved.json()["id"]}
    before = await _counts(db)
    both = await client.post(
        "/v1/payments", json={**body, "payment_method": "pm_card_visa"}, headers=headers
    )
    assert both.status_code == 400
    problem = both.json()
    assert problem["code"] == "parameter_conflict"
    assert {e["param"] for e in problem["errors"]} == {"payment_method", "payment_method_id"}
    assert await _counts(db) == before  # nothing was written
    fixed = await client.post("/v1/payments", json=body, headers=headers)
    assert fixed.status_code == 201, fixed.text  # the key was not consumed by the refusal
    assert fixed.json()["payment_method"]["card"]["brand"] == "mastercard"
