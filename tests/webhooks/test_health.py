"""Auto-disable after only failing, with its events and emails; the recovery announcement."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from kassa.accounts.models import Account
from kassa.core import clock
from kassa.core.db import transaction
from kassa.notify import SmtpMailer
from tests.conftest import Backend
from tests.factories import Merchant
from tests.notify.smtp import Inbox, smtp_server
from tests.webhooks.conftest import Outbound, create_endpoint, make_outbound
from tests.webhooks.helpers import endpoint
from tests.webhooks.receiver import Receiver, ok, status


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def frozen() -> clock.FrozenClock:
    fixed = clock.FrozenClock(clock.SystemClock().now())
    clock.install(fixed)  # the autouse fixture puts the system clock back
    return fixed


@pytest.fixture
async def mailing(
    db: Backend, tmp_path: Path, inbox: Inbox, acme: Merchant
) -> AsyncIterator[Outbound]:
    async with transaction(db.sessions) as session:
        await session.execute(
            update(Account).where(Account.id == acme.account_id).values(email="ops@acme.test")
        )
    mailer = SmtpMailer(inbox.host, inbox.port, sender="kassa@kassa.test", starttls=False)
    ob = await make_outbound(db, tmp_path, mailer=mailer, webhook_retry_schedule="0")
    yield ob
    await ob.deliverer.close()


def types_at(receiver: Receiver, name: str) -> list[str]:
    return [json.loads(r.body)["type"] for r in receiver.at(name)]


async def test_an_endpoint_that_only_fails_is_reported_then_disabled(
    api: httpx.AsyncClient,
    mailing: Outbound,
    receiver: Receiver,
    acme: Merchant,
    inbox: Inbox,
    frozen: clock.FrozenClock,
) -> None:
    receiver.behave("down", status(500))
    down = await create_endpoint(api, acme, receiver.url("down"))
    await create_endpoint(api, acme, receiver.url("other"))
    start = frozen.now()

    await mailing.emit(acme)
    await mailing.drain()
    assert (await endpoint(mailing.db, down["id"])).failing_since == start

    frozen.advance(timedelta(hours=6))  # failures over 6 h: nothing said yet
    await mailing.emit(acme)
    await mailing.drain()
    assert "webhook_endpoint.failing" not in types_at(receiver, "other") and not inbox.messages

    frozen.advance(timedelta(hours=7))  # 13 h of only failures: the merchant is told
    await mailing.emit(acme)
    await mailing.drain()
    assert types_at(receiver, "other").count("webhook_endpoint.failing") == 1
    assert "webhook_endpoint.failing" not in types_at(receiver, "down")
    [failing_mail] = inbox.messages
    assert failing_mail["Subject"] == "Webhook endpoint failing"
    assert inbox.recipients == [["ops@acme.test"]]
    assert down["id"] in failing_mail.get_content()
    assert (await endpoint(mailing.db, down["id"])).enabled is True

    frozen.advance(timedelta(days=2))  # told once, not on every failure
    await mailing.emit(acme)
    await mailing.drain()
    assert types_at(receiver, "other").count("webhook_endpoint.failing") == 1

    frozen.advance(timedelta(days=3))  # five days and more: disabled
    await mailing.emit(acme)
    await mailing.drain()
    state = await endpoint(mailing.db, down["id"])
    assert state.enabled is False and state.disabled_reason == "failing"
    assert types_at(receiver, "other").count("webhook_endpoint.disabled") == 1
    disabled_event = next(
        json.loads(r.body) for r in receiver.at("other") if b"endpoint.disabled" in r.body
    )
    assert disabled_event["data"]["id"] == down["id"]
    assert disabled_event["data"]["enabled"] is False
    assert [m["Subject"] for m in inbox.messages] == [
        "Webhook endpoint failing",
        "Webhook endpoint disabled",
    ]
    calls = len(receiver.at("down"))
    await mailing.emit(acme)
    await mailing.drain()
    assert len(receiver.at("down")) == calls  # nothing more for a disabled endpoint


async def test_a_short_disable_period_still_waits_for_failures_over_twelve_hours(
    api: httpx.AsyncClient,
    db: Backend,
    tmp_path: Path,
    receiver: Receiver,
    acme: Merchant,
    frozen: clock.FrozenClock,
) -> None:
    ob = await make_outbound(
        db, tmp_path, webhook_retry_schedule="0", webhook_disable_after_seconds=3600
    )
    receiver.behave("down", status(500))
    down = await create_endpoint(api, acme, receiver.url("down"))
    for _ in range(4):
        await ob.emit(acme)
        await ob.drain()
        frozen.advance(timedelta(hours=2))
    assert (await endpoint(db, down["id"])).enabled is True  # 6 h of failures only
    frozen.advance(timedelta(hours=7))
    await ob.emit(acme)
    await ob.drain()
    await ob.deliverer.close()
    assert (await endpoint(db, down["id"])).enabled is False


async def test_recovery_is_announced_when_it_succeeds_again(
    api: httpx.AsyncClient,
    mailing: Outbound,
    receiver: Receiver,
    acme: Merchant,
    inbox: Inbox,
    frozen: clock.FrozenClock,
) -> None:
    receiver.behave("flaky", status(502))
    flaky = await create_endpoint(api, acme, receiver.url("flaky"))
    await create_endpoint(api, acme, receiver.url("other"))
    await mailing.emit(acme)
    await mailing.drain()
    frozen.advance(timedelta(hours=13))
    await mailing.emit(acme)
    await mailing.drain()
    assert "webhook_endpoint.failing" in types_at(receiver, "other")

    receiver.behave("flaky", ok)
    frozen.advance(timedelta(hours=1))
    await mailing.emit(acme)
    await mailing.drain()
    state = await endpoint(mailing.db, flaky["id"])
    assert state.failing_since is None and state.last_success_at == frozen.now()
    assert types_at(receiver, "other").count("webhook_endpoint.recovered") == 1
    assert [m["Subject"] for m in inbox.messages] == [
        "Webhook endpoint failing",
        "Webhook endpoint recovered",
    ]
    # a later success announces nothing more
    await mailing.emit(acme)
    await mailing.drain()
    assert types_at(receiver, "other").count("webhook_endpoint.recovered") == 1


async def test_last_success_at_is_stamped_at_most_once_a_minute_as_documented(
    api: httpx.AsyncClient,
    outbound: Outbound,
    receiver: Receiver,
    acme: Merchant,
    frozen: clock.FrozenClock,
) -> None:
    created = await create_endpoint(api, acme, receiver.url())
    await outbound.emit(acme)
    await outbound.drain()
    first = frozen.now()
    assert (await endpoint(outbound.db, created["id"])).last_success_at == first
    frozen.advance(timedelta(seconds=30))
    await outbound.emit(acme)
    await outbound.drain()
    # within the minute: the row is not rewritten (docs: "to within a minute")
    assert (await endpoint(outbound.db, created["id"])).last_success_at == first
    frozen.advance(timedelta(seconds=31))
    await outbound.emit(acme)
    await outbound.drain()
    assert (await endpoint(outbound.db, created["id"])).last_success_at == frozen.now()
