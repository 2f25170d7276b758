"""The stand-in against the official SDK: its answers parse into the SDK's objects with the
fields kassa reads, it refuses wrong keys, fails on demand, and its webhooks are signed so
the SDK's own ``WebhookNotification.parse`` accepts them (and refuses them under other keys).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from kassa.providers.braintree.sdk import braintree
from tests.fakes.braintree import FakeBraintree
from tests.fakes.braintree.webhooks import sign
from tests.providers.braintree.conftest import Receiver, sdk_for

TS = braintree.TransactionSearch


def _sale(sdk: Any, amount: str = "20.00", **extra: Any) -> Any:
    params = {"amount": amount, "payment_method_nonce": "fake-valid-visa-nonce", **extra}
    return sdk.transaction.sale(params)


def test_a_sale_parses_into_the_sdks_transaction(sdk: Any) -> None:
    result = _sale(sdk, order_id="pay_1/authorize", options={"submit_for_settlement": False})
    assert result.is_success
    tx = result.transaction
    assert tx.status == "authorized" and tx.type == "sale"
    assert tx.amount == Decimal("20.00") and tx.currency_iso_code == "USD"
    assert tx.order_id == "pay_1/authorize"
    assert tx.processor_response_code == "1000"
    card = tx.credit_card_details
    assert (card.card_type, card.last_4, card.expiration_month) == ("Visa", "1111", "12")
    assert [(e.status, e.amount) for e in tx.status_history] == [("authorized", Decimal("20.00"))]
    assert sdk.transaction.find(tx.id).id == tx.id


def test_partial_settlement_refunds_and_void(fake: FakeBraintree, sdk: Any) -> None:
    fake.state.auto_settle = False
    held = _sale(sdk, "50.00").transaction
    settled = sdk.transaction.submit_for_settlement(held.id, "30.00")
    assert settled.is_success and settled.transaction.status == "submitted_for_settlement"
    assert settled.transaction.amount == Decimal("30.00")  # Braintree keeps the settled amount
    assert settled.transaction.status_history[0].amount == Decimal("50.00")
    early = sdk.transaction.refund(held.id, "10.00")
    assert not early.is_success
    assert [e.code for e in early.errors.deep_errors] == ["91506"]
    sdk.testing.settle_transaction(held.id)
    refund = sdk.transaction.refund(held.id, {"amount": "10.00", "order_id": "re_1"})
    assert refund.is_success
    credit = refund.transaction
    assert (credit.type, credit.refunded_transaction_id, credit.order_id) == (
        "credit",
        held.id,
        "re_1",
    )
    assert sdk.transaction.find(held.id).refund_ids == [credit.id]
    too_much = sdk.transaction.refund(held.id, "25.00")
    assert [e.code for e in too_much.errors.deep_errors] == ["91521"]
    other = _sale(sdk, "5.00").transaction
    assert sdk.transaction.void(other.id).transaction.status == "voided"
    assert [e.code for e in sdk.transaction.void(other.id).errors.deep_errors] == ["91504"]


def test_search_by_order_id_and_type(sdk: Any) -> None:
    first = _sale(sdk, "7.00", order_id="pay_search/authorize").transaction
    _sale(sdk, "8.00", order_id="pay_other/authorize")
    found = list(
        sdk.transaction.search(TS.order_id == "pay_search/authorize", TS.type.in_list("sale")).items
    )
    assert [t.id for t in found] == [first.id]
    assert list(sdk.transaction.search(TS.order_id == "pay_none/authorize").items) == []


def test_a_processor_decline_as_the_gateway_answers_it(sdk: Any) -> None:
    result = _sale(sdk, "2001.00")
    assert not result.is_success
    assert result.message == "Insufficient Funds"
    tx = result.transaction
    assert tx.status == "processor_declined"
    assert (tx.processor_response_code, tx.processor_response_text) == (
        "2001",
        "Insufficient Funds",
    )
    assert tx.processor_response_type == "soft_declined"
    assert len(result.errors.deep_errors) == 0


def test_a_gateway_rejection_and_a_failure(sdk: Any) -> None:
    fraud = sdk.transaction.sale(
        {"amount": "10.00", "payment_method_nonce": "fake-gateway-rejected-fraud-nonce"}
    )
    assert fraud.transaction.status == "gateway_rejected"
    assert fraud.transaction.gateway_rejection_reason == "fraud"
    failed = _sale(sdk, "3000.00")
    assert failed.transaction.status == "failed"
    assert failed.transaction.processor_response_code == "3000"


def test_validation_errors_nest_as_the_sdk_reads_them(sdk: Any) -> None:
    result = sdk.transaction.sale(
        {"amount": "10.00", "payment_method_nonce": "fake-luhn-invalid-nonce"}
    )
    assert result.transaction is None
    [error] = result.errors.for_object("transaction").for_object("credit_card").on("number")
    assert error.code == "81715"


def test_duplicate_checking_rejects_the_same_sale_in_its_window(sdk: Any) -> None:
    assert _sale(sdk, "9.00", order_id="pay_dup/authorize").is_success
    again = _sale(sdk, "9.00", order_id="pay_dup/authorize")
    assert again.transaction.gateway_rejection_reason == "duplicate"
    assert _sale(sdk, "9.00", order_id="pay_dup2/authorize").is_success


def test_customers_vault_nonces_and_tokens_charge(sdk: Any) -> None:
    made = sdk.customer.create(
        {"id": "cust_1", "payment_method_nonce": "fake-valid-mastercard-nonce"}
    )
    assert made.is_success
    [method] = made.customer.payment_methods
    assert (method.card_type, method.last_4) == ("MasterCard", "4444")
    assert sdk.payment_method.find(method.token).token == method.token
    assert sdk.customer.find("cust_1").id == "cust_1"
    taken = sdk.customer.create({"id": "cust_1"})
    assert [e.code for e in taken.errors.deep_errors] == ["91609"]
    charged = sdk.transaction.sale({"amount": "3.00", "payment_method_token": method.token})
    assert charged.transaction.credit_card_details.token == method.token
    added = sdk.payment_method.create(
        {"customer_id": "cust_1", "payment_method_nonce": "fake-valid-nonce", "token": "tok_1"}
    )
    assert added.is_success and added.payment_method.token == "tok_1"
    assert [m.token for m in sdk.customer.find("cust_1").payment_methods] == [method.token, "tok_1"]
    reused = sdk.payment_method.create(
        {"customer_id": "cust_1", "payment_method_nonce": "fake-valid-nonce", "token": "tok_1"}
    )
    assert [e.code for e in reused.errors.deep_errors] == ["92906"]


def test_minted_nonces_are_single_use(fake: FakeBraintree, sdk: Any) -> None:
    nonce = fake.state.mint_nonce()
    assert sdk.transaction.sale({"amount": "4.00", "payment_method_nonce": nonce}).is_success
    again = sdk.transaction.sale({"amount": "4.00", "payment_method_nonce": nonce})
    assert [e.code for e in again.errors.deep_errors] == ["91564"]


def test_wrong_keys_and_another_merchant_are_refused(fake: FakeBraintree) -> None:
    with pytest.raises(braintree.exceptions.AuthenticationError):
        sdk_for(fake, private_key="not_the_key").transaction.find("abc")
    with pytest.raises(braintree.exceptions.AuthenticationError):
        sdk_for(fake, public_key="someone_else").transaction.find("abc")
    with pytest.raises(braintree.exceptions.AuthorizationError):
        sdk_for(fake, merchant_id="another_merchant").transaction.find("abc")
    with pytest.raises(braintree.exceptions.NotFoundError):
        sdk_for(fake).transaction.find("missing")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, "ServerError"),
        (503, "ServiceUnavailableError"),
        (429, "TooManyRequestsError"),
    ],
)
def test_injected_failures(fake: FakeBraintree, sdk: Any, status: int, error: str) -> None:
    fake.fail_next(status, match="POST")
    with pytest.raises(getattr(braintree.exceptions, error)):
        _sale(sdk)
    assert _sale(sdk).is_success  # only the next one


def test_a_hang_past_the_timeout_after_the_sale_took_effect(fake: FakeBraintree) -> None:
    sdk = sdk_for(fake, timeout=0.3)
    fake.fail_next(hang=1.0, after=True, match="POST")
    with pytest.raises(braintree.exceptions.http.timeout_error.ReadTimeoutError):
        _sale(sdk, "11.00", order_id="pay_lost/authorize")
    [tx] = sdk.transaction.search(TS.order_id == "pay_lost/authorize").items
    assert tx.status == "submitted_for_settlement" or tx.status == "authorized"


def _parse(fake: FakeBraintree, form: dict[str, str]) -> Any:
    return sdk_for(fake).webhook_notification.parse(form["bt_signature"], form["bt_payload"])


def test_settlement_webhooks_are_signed_as_braintree_signs_them(
    fake: FakeBraintree, sdk: Any, receiver: Receiver
) -> None:
    paid = _sale(sdk, "12.00", options={"submit_for_settlement": True}).transaction
    [got] = receiver.wait(1)
    note = _parse(fake, got.form)
    assert note.kind == "transaction_settled"
    assert note.transaction.id == paid.id and note.transaction.status == "settled"
    assert note.transaction.amount == Decimal("12.00")
    public, digest = got.form["bt_signature"].split("|")
    assert public == fake.public_key
    assert got.form["bt_signature"] == sign(
        fake.public_key, fake.private_key, got.form["bt_payload"].encode()
    )
    with pytest.raises(braintree.exceptions.InvalidSignatureError):
        sdk_for(fake, private_key="other_key").webhook_notification.parse(
            got.form["bt_signature"], got.form["bt_payload"]
        )
    assert len(digest) == 40


def test_settlement_declined_and_dispute_opened(
    fake: FakeBraintree, sdk: Any, receiver: Receiver
) -> None:
    declined = _sale(sdk, "4001.00", options={"submit_for_settlement": True}).transaction
    [first] = receiver.wait(1)
    note = _parse(fake, first.form)
    assert note.kind == "transaction_settlement_declined"
    assert note.transaction.id == declined.id
    assert note.transaction.processor_settlement_response_code == "4001"
    paid = _sale(sdk, "13.00", options={"submit_for_settlement": True}).transaction
    receiver.wait(2)
    dispute_id = fake.open_dispute(paid.id)
    disputed = _parse(fake, receiver.wait(3)[2].form)
    assert disputed.kind == "dispute_opened"
    assert disputed.dispute.id == dispute_id
    assert disputed.dispute.transaction.id == paid.id
    assert disputed.dispute.amount_disputed == Decimal("13.00")


def test_a_webhook_that_arrives_before_the_api_call_returns(
    fake: FakeBraintree, sdk: Any, receiver: Receiver
) -> None:
    fake.webhooks.timing = "before"
    paid = _sale(sdk, "14.00", options={"submit_for_settlement": True}).transaction
    returned = time.monotonic()
    [got] = receiver.received  # already there: no waiting
    assert got.at < returned
    assert _parse(fake, got.form).transaction.id == paid.id


def test_a_webhook_sent_twice(fake: FakeBraintree, sdk: Any, receiver: Receiver) -> None:
    fake.webhooks.repeat = 2
    _sale(sdk, "15.00", options={"submit_for_settlement": True})
    first, second = receiver.wait(2)
    assert first.form == second.form
    assert fake.webhooks.redeliver(fake.webhooks.deliveries[0]).status == 200


def test_the_sdks_own_sample_notifications(fake: FakeBraintree, receiver: Receiver) -> None:
    fake.send_sample("check", "unused")
    fake.send_sample("dispute_opened", "dp_sample")
    check, dispute = receiver.wait(2)
    assert _parse(fake, check.form).kind == "check"
    assert _parse(fake, dispute.form).dispute.id == "dp_sample"


def test_merchant_accounts_one_per_currency() -> None:
    with FakeBraintree(currencies=("USD", "EUR")).running() as fake:
        sdk = sdk_for(fake)
        accounts = list(sdk.merchant_account.all().merchant_accounts.items)
        assert [(a.currency_iso_code, a.default, a.status) for a in accounts] == [
            ("USD", True, "active"),
            ("EUR", False, "active"),
        ]
        eur = _sale(sdk, "6.00", merchant_account_id=accounts[1].id).transaction
        assert (eur.currency_iso_code, eur.merchant_account_id) == ("EUR", accounts[1].id)
        unknown = _sale(sdk, "6.00", merchant_account_id="nope")
        assert [e.code for e in unknown.errors.deep_errors] == ["91513"]


def test_the_http_control_api(fake: FakeBraintree, sdk: Any, receiver: Receiver) -> None:
    import json
    import urllib.request

    def control(path: str, **args: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{fake.url}/__control/{path}", data=json.dumps(args).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=3) as answer:
            return dict(json.loads(answer.read()))

    control("webhooks", repeat=1, timing="before")
    control("fail", status=503, match="POST")
    with pytest.raises(braintree.exceptions.ServiceUnavailableError):
        _sale(sdk)
    nonce = control("nonce")["nonce"]
    fake.state.auto_settle = False
    paid = sdk.transaction.sale(
        {
            "amount": "16.00",
            "payment_method_nonce": nonce,
            "options": {"submit_for_settlement": True},
        }
    ).transaction
    assert receiver.received == []
    control(f"settle/{paid.id}")
    assert _parse(fake, receiver.received[0].form).kind == "transaction_settled"
    dispute_id = control(f"dispute/{paid.id}")["dispute_id"]
    assert _parse(fake, receiver.received[1].form).dispute.id == dispute_id


def _sample_subject(fake: FakeBraintree, kind: str, object_id: str) -> dict[str, Any]:
    """The subject of the SDK's own sample notification of ``kind``, as parsed XML."""
    import base64

    from braintree.util.xml_util import XmlUtil

    from tests.fakes.braintree.webhooks import sample

    form = sample(fake.merchant_id, fake.public_key, fake.private_key, kind, object_id)
    parsed = XmlUtil.dict_from_xml(base64.decodebytes(form["bt_payload"].encode()))
    return dict(parsed["notification"]["subject"])


def _ours(fake: FakeBraintree, receiver: Receiver, count: int) -> dict[str, Any]:
    import base64

    from braintree.util.xml_util import XmlUtil

    payload = receiver.wait(count)[count - 1].form["bt_payload"]
    parsed = XmlUtil.dict_from_xml(base64.decodebytes(payload.encode()))
    return dict(parsed["notification"]["subject"])


def test_notifications_carry_every_field_of_the_sdks_samples(
    fake: FakeBraintree, sdk: Any, receiver: Receiver
) -> None:
    """The SDK's sample notifications are Braintree's published shapes: ours may say more,
    never less (a card transaction has no ``us_bank_account``)."""
    paid = _sale(sdk, "17.00", options={"submit_for_settlement": True}).transaction
    settled = _ours(fake, receiver, 1)["transaction"]
    sample_tx = _sample_subject(fake, "transaction_settled", "t1")["transaction"]
    assert set(sample_tx) - {"us_bank_account"} <= set(settled)
    fake.open_dispute(paid.id)
    dispute = _ours(fake, receiver, 2)["dispute"]
    sample_dispute = _sample_subject(fake, "dispute_opened", "d1")["dispute"]
    assert set(sample_dispute) <= set(dispute)
    assert set(sample_dispute["transaction"]) <= set(dispute["transaction"])


def test_the_destination_check_as_braintree_makes_it(
    fake: FakeBraintree, receiver: Receiver
) -> None:
    assert fake.verify_destination()
    fake.private_key = "another_private_key"
    assert not fake.verify_destination()
