"""Password guessing on POST /v1/auth/token is throttled (issue #8, item 9, first half)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from kassa.accounts.users import create_user
from kassa.core import clock
from kassa.core.audit import AuditEntry
from kassa.core.db import transaction
from kassa.core.settings import Settings
from kassa.jobs.registry import JobRegistry
from kassa.jobs.worker import Worker
from kassa.notify import SmtpMailer
from tests.conftest import Backend
from tests.notify.smtp import smtp_server
from tests.openapi_conformance import api_transport

PASSWORD = "correct horse battery"
WRONG = "not the password"


async def _user(db: Backend, email: str, role: str = "admin") -> None:
    async with transaction(db.sessions) as session:
        await create_user(session, email=email, password=PASSWORD, role=role, account_id=None)


@asynccontextmanager
async def api(settings: Settings, ip: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """One API process of its own (its own engine, limiter and memory), seen from ``ip``."""
    from kassa.api.app import create_app

    app = create_app(settings)
    transport = api_transport(app, raise_app_exceptions=True, client=(ip, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client,
    ):
        yield client


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", json={"email": email, "password": password})


async def audit_actions(db: Backend) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("auth.%"))
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


def frozen() -> clock.FrozenClock:
    now = clock.FrozenClock(clock.now())
    clock.install(now)
    return now


async def test_wrong_passwords_lock_the_email_for_a_growing_time(
    db: Backend, settings: Settings
) -> None:
    await _user(db, "root@kassa.test")
    now = frozen()
    async with api(settings) as client:
        statuses = [(await sign_in(client, "root@kassa.test", WRONG)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 401]
        fifth = await sign_in(client, "Root@Kassa.test", WRONG)
        assert fifth.status_code == 429
        assert fifth.json()["code"] == "login_locked"
        assert fifth.headers["retry-after"] == "60"
        # while locked even the right password is refused, unchecked
        right = await sign_in(client, "root@kassa.test", PASSWORD)
        assert right.status_code == 429 and right.json()["code"] == "login_locked"
        assert 1 <= int(right.headers["retry-after"]) <= 60

        now.advance(timedelta(seconds=61))
        for _ in range(4):
            assert (await sign_in(client, "root@kassa.test", WRONG)).status_code == 401
        again = await sign_in(client, "root@kassa.test", WRONG)
        assert again.status_code == 429 and again.headers["retry-after"] == "120"  # doubled

        now.advance(timedelta(seconds=121))
        assert (await sign_in(client, "root@kassa.test", PASSWORD)).status_code == 200
        # a success gives the email all its tries back
        for _ in range(4):
            assert (await sign_in(client, "root@kassa.test", WRONG)).status_code == 401
    assert await audit_actions(db) == [
        *["auth.login_failed"] * 5,
        "auth.login_locked",
        *["auth.login_failed"] * 5,
        "auth.login_locked",
        "auth.login",
        *["auth.login_failed"] * 4,
    ]


async def test_unknown_emails_lock_the_same_way(db: Backend, settings: Settings) -> None:
    frozen()
    async with api(settings) as client:
        answers = [await sign_in(client, "nobody@kassa.test", WRONG) for _ in range(6)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429, 429]


async def test_one_address_guessing_at_many_emails_is_locked(db: Backend, tmp_path: Path) -> None:
    await _user(db, "root@kassa.test")
    settings = db.settings(tmp_path, login_max_failures_per_ip=3)
    frozen()
    async with api(settings, ip="198.51.100.9") as attacker, api(settings) as office:
        answers = [await sign_in(attacker, f"user{i}@kassa.test", WRONG) for i in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 429, 429]
        assert answers[2].json()["code"] == "login_locked"
        # the email the attacker did not use, from another address, is not affected
        assert (await sign_in(office, "root@kassa.test", PASSWORD)).status_code == 200
        assert (await sign_in(attacker, "root@kassa.test", PASSWORD)).status_code == 429


async def test_the_count_is_shared_by_every_api_process(db: Backend, settings: Settings) -> None:
    await _user(db, "root@kassa.test")
    frozen()
    async with api(settings) as first, api(settings) as second:
        answers = []
        for i in range(6):
            client = first if i % 2 == 0 else second
            answers.append((await sign_in(client, "root@kassa.test", WRONG)).status_code)
    assert answers == [401, 401, 401, 401, 429, 429]


async def test_concurrent_guesses_get_no_extra_tries(db: Backend, settings: Settings) -> None:
    await _user(db, "root@kassa.test")
    frozen()
    async with api(settings) as first, api(settings) as second:
        answers = await asyncio.gather(
            *[sign_in((first, second)[i % 2], "root@kassa.test", WRONG) for i in range(12)]
        )
    statuses = sorted(a.status_code for a in answers)
    checked = statuses.count(401) + sum(
        1 for a in answers if a.status_code == 429 and "Wrong email" in a.json()["detail"]
    )
    assert checked == 5  # exactly the allowed tries reached the password check
    assert statuses.count(429) == 12 - statuses.count(401) and statuses.count(429) >= 7


async def test_a_lockout_is_audited_and_mailed_to_the_admins(
    db: Backend, settings: Settings
) -> None:
    await _user(db, "root@kassa.test")
    await _user(db, "ops@kassa.test")
    await _user(db, "manager@acme.test", role="admin")
    frozen()
    async with api(settings) as client:
        for _ in range(5):
            await sign_in(client, "root@kassa.test", WRONG)
    async with db.sessions() as session:
        [locked] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "auth.login_locked")
            )
        ).all()
    assert locked.ip == "203.0.113.7"
    after: dict[str, Any] = locked.after or {}
    assert (after["email"], after["seconds"], after["lockouts"]) == ("root@kassa.test", 60, 1)

    from kassa.accounts.jobs import install

    with smtp_server() as inbox:
        registry = JobRegistry()
        mailer = SmtpMailer(inbox.host, inbox.port, sender="kassa@example.com", starttls=False)
        install(registry, settings, mailer=mailer)
        worker = Worker(db.sessions, registry=registry, schedules={})
        assert await worker.run_due() >= 1
    [message] = inbox.messages
    assert inbox.recipients == [["manager@acme.test", "ops@kassa.test", "root@kassa.test"]]
    assert message["Subject"] == "kassa: sign-in locked for the email root@kassa.test"
    assert "60 seconds" in message.get_content()
    assert PASSWORD not in message.get_content() and WRONG not in message.get_content()
