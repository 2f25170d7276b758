"""Webhooks at /webhooks/stripe/{pcr_id}: verified with that account's own credentials,
stored as theirs; deleted credentials have no URL any more."""

from __future__ import annotations

from tests.factories import merchant
from tests.webhooks.inbound.conftest import Inbound
from tests.webhooks.inbound.signing import STRIPE_SECRET, stripe_event, stripe_header

OWN_SECRET = "whsec_account_own_0123456789abcdef"


async def test_an_accounts_webhook_url_verifies_with_its_own_secret(inbound: Inbound) -> None:
    owner = await merchant(inbound.db.sessions)
    created = await inbound.http.post(
        "/v1/provider_credentials",
        headers=owner.auth,
        json={
            "kind": "stripe",
            "fields": {"secret_key": "sk_test_account_own_4242", "webhook_secret": OWN_SECRET},
        },
    )
    assert created.status_code == 201, created.text
    pcr = created.json()["id"]
    url = f"/webhooks/stripe/{pcr}"
    assert created.json()["webhook_url"].endswith(url)
    body = stripe_event("evt_own_1")
    headers = {"Content-Type": "application/json"}
    wrong = await inbound.http.post(
        url, content=body, headers={**headers, "Stripe-Signature": stripe_header(body)}
    )  # signed with the install's secret, not the account's
    assert wrong.status_code == 400 and STRIPE_SECRET not in wrong.text
    right = await inbound.http.post(
        url,
        content=body,
        headers={**headers, "Stripe-Signature": stripe_header(body, OWN_SECRET)},
    )
    assert right.status_code == 200, right.text
    [row] = await inbound.rows()
    assert (row.credentials_id, row.account_id) == (pcr, owner.account_id)
    deleted = await inbound.http.delete(f"/v1/provider_credentials/{pcr}", headers=owner.auth)
    assert deleted.status_code == 200
    inbound.receiver.accounts._found.clear()  # its few seconds' cache, as after its TTL
    gone = await inbound.http.post(
        url,
        content=stripe_event("evt_own_2"),
        headers={**headers, "Stripe-Signature": stripe_header(body, OWN_SECRET)},
    )
    assert gone.status_code == 404
