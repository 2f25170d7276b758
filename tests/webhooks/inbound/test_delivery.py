"""What a provider relies on at /webhooks/...: concurrent and repeated deliveries store one row,
a 2xx means the row and its job are committed, a failed write is no 2xx, and what was refused
is counted, logged without secrets and alerted on."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from kassa.accounts.users import create_user
from kassa.core.db import transaction
from kassa.core.ids import new_id
from kassa.jobs.models import Job
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.notify import LogMailer
from kassa.providers.credentials import Credentials
from kassa.webhooks.inbound import alerts
from kassa.webhooks.inbound.models import InboundEvent
from kassa.webhooks.inbound.store import GroupCommitter, NewEvent
from tests.conftest import Backend
from tests.factories import merchant
from tests.webhooks.inbound.conftest import CertServer, Inbound, provider_settings, start_inbound
from tests.webhooks.inbound.signing import (
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    stripe_event,
    stripe_header,
)

# The receiver refuses a URL whose last part is not a well-formed pcr_ id.
PCR_ACME = new_id("pcr")


async def post(inbound: Inbound, body: bytes, header: str) -> int:
    response = await inbound.http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": header}
    )
    return response.status_code


async def test_concurrent_identical_deliveries_store_one_row_and_one_job(inbound: Inbound) -> None:
    body = stripe_event("evt_burst")
    statuses = await asyncio.gather(*(post(inbound, body, stripe_header(body)) for _ in range(20)))
    assert statuses == [200] * 20
    assert await inbound.count() == 1 and len(await inbound.jobs()) == 1


async def test_concurrent_deliveries_share_commits(inbound: Inbound) -> None:
    bodies = [stripe_event(f"evt_group_{n:02d}") for n in range(40)]
    statuses = await asyncio.gather(*(post(inbound, b, stripe_header(b)) for b in bodies))
    assert statuses == [200] * 40
    assert await inbound.count() == 40 and len(await inbound.jobs()) == 40
    assert inbound.receiver.committer.batches < 40  # grouped, not one commit each


async def test_the_row_is_committed_when_the_2xx_arrives(inbound: Inbound) -> None:
    """Each acknowledged event is readable from another connection the moment its answer
    arrives (no write is left for later)."""

    async def deliver_and_look(n: int) -> tuple[int, str | None]:
        body = stripe_event(f"evt_durable_{n}")
        response = await inbound.http.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": stripe_header(body)}
        )
        async with inbound.db.sessions() as session:
            found = await session.scalar(
                select(InboundEvent.id).where(InboundEvent.event_id == f"evt_durable_{n}")
            )
            job = await session.scalar(
                select(Job.id).where(Job.args["inbound_event_id"].as_string() == found)
            )
        assert job is not None
        return response.status_code, found

    for status, found in await asyncio.gather(*(deliver_and_look(n) for n in range(10))):
        assert status == 200 and found is not None


async def test_a_failed_write_is_a_503_and_the_retry_stores_it(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(rows: object) -> set[str]:
        raise ConnectionResetError("database went away")

    committer = inbound.receiver.committer
    monkeypatch.setattr(committer, "_write", broken)
    body = stripe_event("evt_retried")
    response = await inbound.http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": stripe_header(body)}
    )
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["code"] == "service_unavailable"
    assert await inbound.count() == 0
    monkeypatch.undo()
    assert await post(inbound, body, stripe_header(body)) == 200  # Stripe's retry
    assert await inbound.count() == 1


async def test_a_row_the_database_refuses_fails_only_its_own_request(db: Backend) -> None:
    if db.name != "postgresql":
        pytest.skip("SQLite stores the parsed payload; only PostgreSQL parses the JSON text")
    committer = GroupCommitter(db.engine, db.sessions)

    def event(n: int, payload: str = "{}") -> NewEvent:
        return NewEvent("stripe", "default", None, False, f"evt_{n}", "t", {}, payload)

    results = await asyncio.gather(
        *(committer.store(event(n)) for n in range(5)),
        committer.store(event(99, "not json")),
        return_exceptions=True,
    )
    await committer.close()
    assert [isinstance(r, Exception) for r in results] == [False] * 5 + [True]
    async with db.sessions() as session:
        stored = (await session.scalars(select(InboundEvent.event_id))).all()
    assert sorted(stored) == [f"evt_{n}" for n in range(5)]


async def test_deliveries_are_counted_in_metrics(inbound: Inbound) -> None:
    def count(text: str, outcome: str) -> float:
        for line in text.splitlines():
            wanted = (f'outcome="{outcome}"', 'provider="stripe"')
            if line.startswith("kassa_inbound_webhooks_total{") and all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = (await inbound.http.get("/metrics")).text
    body = stripe_event("evt_counted")
    await post(inbound, body, stripe_header(body))
    await post(inbound, body, stripe_header(body))
    await post(inbound, body, stripe_header(body, "whsec_wrong"))
    after = (await inbound.http.get("/metrics")).text
    for outcome in ("stored", "duplicate", "invalid_signature"):
        assert count(after, outcome) - count(before, outcome) == 1, outcome


async def test_refusals_are_logged_without_the_body_or_any_secret(
    inbound: Inbound, caplog: pytest.LogCaptureFixture
) -> None:
    body = stripe_event("evt_logged").replace(b"pi_123", b"pi_SECRETIVE_BODY_MARK")
    header = stripe_header(body, "whsec_attacker_guess")
    with caplog.at_level(logging.DEBUG, logger="kassa"):
        assert await post(inbound, body, header) == 400
        assert await post(inbound, body, stripe_header(body)) == 200
    ours = [r for r in caplog.records if r.name.startswith("kassa")]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert "inbound webhook refused" in logged
    for secret in (STRIPE_SECRET, STRIPE_OLD_SECRET, "whsec_attacker_guess", header):
        assert secret not in logged
    assert "SECRETIVE_BODY_MARK" not in logged


async def test_invalid_signatures_past_the_threshold_alert_the_accounts_admins_once(
    db: Backend, tmp_path: Path, cert_server: CertServer
) -> None:
    acme = await merchant(db.sessions, "Acme")
    other = await merchant(db.sessions, "Other")
    async with transaction(db.sessions) as session:
        for email, account in (("admin@acme.test", acme), ("admin@other.test", other)):
            await create_user(
                session,
                email=email,
                password="correct horse battery",
                role="admin",
                account_id=account.account_id,
            )
    settings = provider_settings(
        db, tmp_path, cert_server.origin, inbound_invalid_signature_alert_threshold=3
    )
    creds = Credentials(
        PCR_ACME, "stripe", False, {"webhook_secret": "whsec_acme"}, acme.account_id
    )

    async def lookup(kind: str, credentials_id: str) -> Credentials | None:
        return creds if credentials_id == PCR_ACME else None

    async for inbound in start_inbound(settings, db):
        inbound.receiver.use_credentials(lookup)
        for n in range(6):
            body = stripe_event(f"evt_forged_{n}")
            response = await inbound.http.post(
                f"/webhooks/stripe/{PCR_ACME}",
                content=body,
                headers={"Stripe-Signature": stripe_header(body, "whsec_forger")},
            )
            assert response.status_code == 400
        await asyncio.gather(*inbound.receiver.alarm._tasks)
    async with db.sessions() as session:
        queued = (await session.scalars(select(Job).where(Job.name == alerts.ALERT_JOB))).all()
    assert len(queued) == 1  # rate-limited: one alert per window
    assert queued[0].args["account_id"] == acme.account_id and queued[0].args["count"] == 3
    registry = JobRegistry()
    mailer = LogMailer()
    alerts.install(registry, mailer)
    worker = Worker(db.sessions, registry=registry, schedules={}, concurrency=4)
    await worker.run_due()
    [mail] = mailer.sent
    assert mail.to == ("admin@acme.test",)
    assert f"/webhooks/stripe/{PCR_ACME}" in mail.subject and "whsec_acme" not in mail.body
