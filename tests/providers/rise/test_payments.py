"""Payments through the Rise stand-in: one, a batch of 150 split at 100, idempotency,
status polling, balance, payee info and invitations."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from kassa.core.money import Money
from kassa.providers.base import (
    BatchPayoutRequest,
    DeclinedError,
    InviteRequest,
    PayoutLookup,
    PayoutProvider,
    PayoutRequest,
    PermanentProviderError,
    TransientProviderError,
)
from kassa.providers.rise.provider import RisePayoutProvider
from tests.fakes.rise.server import RiseStandIn
from tests.providers.rise.conftest import Paths, config_for

START = 10**12  # the stand-in's opening balance in USDC base units


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def test_the_client_is_a_payout_provider(provider: RisePayoutProvider) -> None:
    assert isinstance(provider, PayoutProvider)
    assert provider.batch_limit == 100


async def test_one_payment_pays_the_exact_amount(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    result = await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(12_345)))
    assert result.status == "pending" and result.amount == usd(12_345)
    (tx,) = rise.transactions.values()
    assert tx.nanoid == result.provider_transaction_id
    assert tx.units == 12_345 * 10**4  # $123.45 as USDC base units, exactly
    assert rise.balance_units == START - 12_345 * 10**4
    balance = await provider.balance("USD")
    assert balance.available == Money(START // 10**4 - 12_345, "USD")


async def test_the_same_key_pays_once(rise: RiseStandIn, provider: RisePayoutProvider) -> None:
    payee = rise.add_payee("a@example.com")
    request = PayoutRequest("po_1/send", payee.riseid, usd(500))
    first = await provider.send_payment(request)
    second = await provider.send_payment(request)
    assert first.provider_transaction_id == second.provider_transaction_id
    assert len(rise.transactions) == 1 and rise.balance_units == START - 500 * 10**4


async def test_a_key_reused_for_another_amount_is_refused(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(500)))
    with pytest.raises(PermanentProviderError) as caught:
        await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(501)))
    assert caught.value.code == "idempotency_mismatch"
    assert len(rise.transactions) == 1


async def test_a_lost_answer_then_a_retry_pays_once(
    rise: RiseStandIn, wallet: LocalAccount, paths: Paths, api_version: str
) -> None:
    payee = rise.add_payee("a@example.com")
    client = RisePayoutProvider(config_for(rise, wallet, api_version, timeout_seconds=0.3))
    try:
        rise.hang(*paths.execute, 1.0, after=True)  # Rise pays, the answer never comes
        request = PayoutRequest("po_1/send", payee.riseid, usd(700))
        with pytest.raises(TransientProviderError) as caught:
            await client.send_payment(request)
        assert caught.value.ambiguous
        assert len(rise.transactions) == 1
        retried = await client.send_payment(request)
        assert retried.provider_transaction_id == next(iter(rise.transactions))
        assert len(rise.transactions) == 1 and rise.balance_units == START - 700 * 10**4
    finally:
        await client.aclose()


async def test_a_batch_of_150_goes_as_groups_of_100_and_50(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payees = [rise.add_payee(f"p{i}@example.com") for i in range(150)]
    payouts = tuple(
        PayoutRequest(f"po_{i}/send", p.riseid, usd(1_000 + i)) for i, p in enumerate(payees)
    )
    result = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    assert len(result.provider_batch_ids) == 2
    assert [r.idempotency_key for r in result.results] == [p.idempotency_key for p in payouts]
    assert all(r.status == "pending" for r in result.results)
    groups = [len({t.group_id for t in rise.transactions.values()})]
    assert groups == [2] and len(rise.transactions) == 150
    assert rise.balance_units == START - sum(p.amount.minor for p in payouts) * 10**4
    again = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    assert [r.provider_transaction_id for r in again.results] == [
        r.provider_transaction_id for r in result.results
    ]
    assert len(rise.transactions) == 150


async def test_a_batch_partly_fails_per_transaction(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    ready = rise.add_payee("ready@example.com")
    kyc = rise.add_payee("kyc@example.com", kyc_status="pending")
    payouts = (
        PayoutRequest("po_a/send", ready.riseid, usd(100)),
        PayoutRequest("po_b/send", kyc.riseid, usd(200)),
    )
    result = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    ok, refused = result.results
    assert ok.status == "pending" and ok.provider_transaction_id
    assert refused.status == "failed" and refused.error_code == "payee_not_payable"
    assert rise.balance_units == START - 100 * 10**4


async def test_a_second_group_that_fails_keeps_the_first_groups_results(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payees = [rise.add_payee(f"p{i}@example.com") for i in range(150)]
    payouts = tuple(PayoutRequest(f"po_{i}/send", p.riseid, usd(100)) for i, p in enumerate(payees))
    rise.fail(*paths.execute, 503, skip=1)  # the first group executes, the second not
    result = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    first, second = result.results[:100], result.results[100:]
    assert all(r.status == "pending" for r in first)
    assert all(r.status == "unknown" and r.retryable for r in second)
    assert len(result.provider_batch_ids) == 1 and len(rise.transactions) == 100

    retried = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    assert all(r.status == "pending" for r in retried.results)
    assert [r.provider_transaction_id for r in retried.results[:100]] == [
        r.provider_transaction_id for r in first
    ]
    assert len(rise.transactions) == 150
    assert rise.balance_units == START - 150 * 100 * 10**4


async def test_status_is_polled_by_id_or_by_key(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    sent = await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(900)))
    assert sent.provider_transaction_id
    by_key = PayoutLookup("po_1/send", payee.riseid, usd(900))
    by_id = PayoutLookup("po_1/send", payee.riseid, usd(900), sent.provider_transaction_id)
    assert (await provider.get_payment_status(by_key)).status == "pending"  # type: ignore[union-attr]
    await rise.advance(sent.provider_transaction_id, "scheduled")
    assert (await provider.get_payment_status(by_id)).status == "processing"  # type: ignore[union-attr]
    await rise.advance(sent.provider_transaction_id, "complete")
    done = await provider.get_payment_status(by_key)
    assert done is not None and done.status == "completed" and done.amount == usd(900)
    never = PayoutLookup("po_never/send", payee.riseid, usd(900))
    assert await provider.get_payment_status(never) is None


async def test_a_failed_transfer_is_reported_failed(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    sent = await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(900)))
    assert sent.provider_transaction_id
    await rise.advance(sent.provider_transaction_id, "removed", "CHAIN_REVERTED")
    lookup = PayoutLookup("po_1/send", payee.riseid, usd(900), sent.provider_transaction_id)
    failed = await provider.get_payment_status(lookup)
    assert (
        failed is not None and failed.status == "failed" and failed.error_code == "chain_reverted"
    )
    assert rise.balance_units == START


async def test_payments_settle_over_time(rise: RiseStandIn, provider: RisePayoutProvider) -> None:
    rise.settle_seconds = 10
    payee = rise.add_payee("a@example.com")
    sent = await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(900)))
    lookup = PayoutLookup("po_1/send", payee.riseid, usd(900), sent.provider_transaction_id)
    rise.offset = 6
    assert (await provider.get_payment_status(lookup)).status == "processing"  # type: ignore[union-attr]
    rise.offset = 11
    assert (await provider.get_payment_status(lookup)).status == "completed"  # type: ignore[union-attr]


async def test_a_payee_not_payable_is_a_decline(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com", kyc_status="pending")
    with pytest.raises(DeclinedError) as caught:
        await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(900)))
    assert caught.value.decline_code == "payee_not_payable" and not caught.value.soft


async def test_too_little_balance_is_a_soft_decline(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payee = rise.add_payee("a@example.com")
    rise.balance_units = 899 * 10**4
    with pytest.raises(DeclinedError) as caught:
        await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, usd(900)))
    assert caught.value.decline_code == "insufficient_funds" and caught.value.soft
    assert rise.transactions == {}


async def test_payee_info_and_kyc(rise: RiseStandIn, provider: RisePayoutProvider) -> None:
    ready = rise.add_payee("ready@example.com")
    waiting = rise.add_payee("wait@example.com", kyc_status="pending")
    info = await provider.get_payee_info(ready.riseid)
    assert info.kyc_status == "approved" and info.can_receive_payments
    assert info.email == "ready@example.com"
    other = await provider.get_payee_info(waiting.riseid)
    assert other.kyc_status == "pending" and not other.can_receive_payments
    with pytest.raises(PermanentProviderError) as caught:
        await provider.get_payee_info("0x" + "ab" * 20)
    assert caught.value.code == "invalid_payee"


async def test_balance_rounds_dust_down(rise: RiseStandIn, provider: RisePayoutProvider) -> None:
    rise.balance_units = 12_345_678  # $12.345678
    assert (await provider.balance("USD")).available == usd(1_234)


async def test_invite_a_payee_once(rise: RiseStandIn, provider: RisePayoutProvider) -> None:
    request = InviteRequest("aff_1/invite", "new@example.com", "Ada", "Lovelace")
    first = await provider.invite_payee(request)
    again = await provider.invite_payee(request)
    assert first.status == "sent" and first.invite_id == again.invite_id
    assert len(rise.invites) == 1
    payee = await rise.accept_invite("new@example.com")
    accepted = await provider.invite_payee(InviteRequest("aff_1/invite-2", "new@example.com"))
    assert accepted.status == "accepted" and accepted.payee_id == payee.riseid


async def test_only_usd_is_paid_out(
    rise: RiseStandIn, provider: RisePayoutProvider, paths: Paths
) -> None:
    payee = rise.add_payee("a@example.com")
    with pytest.raises(PermanentProviderError) as caught:
        await provider.send_payment(PayoutRequest("po_1/send", payee.riseid, Money(100, "EUR")))
    assert caught.value.code == "provider_currency_unsupported"
    assert not any((m, p) == paths.create for m, p in rise.requests)


async def test_a_balance_that_covers_only_the_first_group(
    rise: RiseStandIn, provider: RisePayoutProvider
) -> None:
    payees = [rise.add_payee(f"p{i}@example.com") for i in range(150)]
    payouts = tuple(PayoutRequest(f"po_{i}/send", p.riseid, usd(100)) for i, p in enumerate(payees))
    rise.balance_units = 120 * 100 * 10**4  # $120: the first 100 payments of $1, not all 150
    result = await provider.send_batch_payment(BatchPayoutRequest("pb_1/send", payouts))
    assert all(r.status == "pending" for r in result.results[:100])
    late = result.results[100:]
    assert all(r.status == "failed" and r.error_code == "insufficient_funds" for r in late)
    assert all(r.retryable for r in late)
    assert rise.balance_units == 20 * 100 * 10**4
