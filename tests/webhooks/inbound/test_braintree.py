"""Braintree webhooks at POST /webhooks/braintree: made with the SDK's own
``WebhookTesting.sample_notification``, verified and parsed with the SDK."""

from __future__ import annotations

from urllib.parse import urlencode

import braintree
import pytest

from tests.webhooks.inbound.conftest import Inbound
from tests.webhooks.inbound.signing import BRAINTREE

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def gateway(**keys: str) -> braintree.BraintreeGateway:
    values = {**BRAINTREE, **keys}
    return braintree.BraintreeGateway(
        braintree.Configuration(environment=braintree.Environment.Sandbox, **values)
    )


def sample(kind: str, subject: str, **keys: str) -> dict[str, str]:
    found = gateway(**keys).webhook_testing.sample_notification(kind, subject)
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in found.items()}


async def post(inbound: Inbound, form: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = await inbound.http.post(
        "/webhooks/braintree", content=urlencode(form).encode(), headers=FORM
    )
    return response.status_code, response.json()


async def test_a_sample_notification_is_stored_once(inbound: Inbound) -> None:
    form = sample(braintree.WebhookNotification.Kind.TransactionSettled, "txn_123")
    status, answer = await post(inbound, form)
    assert status == 200 and answer["duplicate"] is False
    [row] = await inbound.rows()
    assert row.provider == "braintree" and row.event_type == "transaction_settled"
    assert row.event_id.startswith("bt_")
    assert row.payload["subject"]["transaction"]["id"] == "txn_123"
    status, answer = await post(inbound, form)  # a redelivery: the same payload
    assert status == 200 and answer["duplicate"] is True
    assert await inbound.count() == 1 and len(await inbound.jobs()) == 1


async def test_two_notifications_are_two_events(inbound: Inbound) -> None:
    for subject in ("txn_a", "txn_b"):
        form = sample(braintree.WebhookNotification.Kind.DisputeOpened, subject)
        assert (await post(inbound, form))[0] == 200
    assert await inbound.count() == 2


@pytest.mark.parametrize("case", ["tampered", "other_private_key", "other_public_key", "unsigned"])
async def test_refused_notifications_store_nothing(inbound: Inbound, case: str) -> None:
    kind = braintree.WebhookNotification.Kind.TransactionSettled
    form = sample(kind, "txn_1")
    if case == "tampered":
        form["bt_payload"] = sample(kind, "txn_2")["bt_payload"]
    elif case == "other_private_key":
        form = sample(kind, "txn_1", private_key="someone-elses")
    elif case == "other_public_key":
        form = sample(kind, "txn_1", public_key="other_pub", private_key="someone-elses")
    else:
        del form["bt_signature"]
    status, problem = await post(inbound, form)
    assert status == 400 and problem["code"] == "invalid_signature"
    assert BRAINTREE["private_key"] not in str(problem)
    assert await inbound.count() == 0


async def test_a_body_that_is_no_form_is_refused(inbound: Inbound) -> None:
    response = await inbound.http.post("/webhooks/braintree", content=b"\xff\x00", headers=FORM)
    assert response.status_code == 400 and await inbound.count() == 0


async def test_the_challenge_of_a_new_webhook_url_is_answered(inbound: Inbound) -> None:
    challenge = "20f9f8ed05f77439fe955c977e4c8a53"
    response = await inbound.http.get("/webhooks/braintree", params={"bt_challenge": challenge})
    assert response.status_code == 200
    assert response.text == gateway().webhook_notification.verify(challenge)
