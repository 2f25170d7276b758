"""`kassa webhooks ...`: endpoints, the event log, replay and recover, and the event catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli.bootstrap import (
    JsonOption,
    composed_settings,
    in_transaction,
    new_app,
    print_json,
    print_list,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

app = new_app("Outbound webhooks: endpoints, events, replay, recover, the event catalog.")
Account = Annotated[str, typer.Option(help="Account id (acct_...).")]
Live = Annotated[bool, typer.Option("--live", help="Live mode objects (default: test mode).")]


@app.command("catalog")
def catalog(
    markdown: Annotated[bool, typer.Option("--markdown", help="As Markdown.")] = False,
    write: Annotated[
        Path | None, typer.Option(help="Replace the catalog section of this document.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every event type kassa sends, with an example (docs/webhooks.md is generated from it)."""
    from kassa.jobs.catalog import all_event_types
    from kassa.webhooks.outbound.catalog_doc import catalog_markdown, with_catalog

    composed_settings()  # every context declares its event types when it is composed
    if write is not None:
        write.write_text(with_catalog(write.read_text()))
        typer.echo(f"updated the event catalog in {write}")
    elif markdown:
        typer.echo(catalog_markdown())
    else:
        rows = [{"name": e.name, "description": e.description} for e in all_event_types()]
        print_list(rows, as_json=as_json, line=lambda e: f"{e['name']:<36} {e['description']}")


@app.command("create")
def create(
    account: Account,
    url: Annotated[str, typer.Option(help="https URL receiving the events.")],
    events: Annotated[str, typer.Option(help="Comma-separated types or wildcards.")] = "*",
    description: Annotated[str | None, typer.Option()] = None,
    live: Live = False,
) -> None:
    """Create an endpoint and print it with its signing secret (shown only now)."""
    from kassa.webhooks.outbound import endpoints
    from kassa.webhooks.outbound.config import OutboundConfig

    settings = composed_settings()

    async def go(session: AsyncSession) -> dict[str, Any]:
        issued = await endpoints.create_endpoint(
            session,
            account_id=account,
            livemode=live,
            url=url,
            enabled_events=[e.strip() for e in events.split(",") if e.strip()],
            description=description,
            config=OutboundConfig.from_settings(settings),
            box=endpoints.secret_box(settings.secret_key_bytes()),
        )
        return {**endpoints.to_dict(issued.endpoint), "secret": issued.secret}

    print_json(in_transaction(go, settings))


@app.command("list")
def list_endpoints(account: Account, live: Live = False, as_json: JsonOption = False) -> None:
    """List an account's endpoints."""
    from kassa.webhooks.outbound import endpoints

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        found = await endpoints.list_endpoints(session, account_id=account, livemode=live)
        return [endpoints.to_dict(e) for e in found]

    print_list(in_transaction(go), as_json=as_json)


@app.command("update")
def update(
    endpoint_id: Annotated[str, typer.Argument(help="we_...")],
    account: Account,
    url: Annotated[str | None, typer.Option()] = None,
    events: Annotated[str | None, typer.Option(help="Comma-separated.")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    live: Live = False,
) -> None:
    """Change an endpoint's URL or event filter, or enable/disable it."""
    from kassa.webhooks.outbound import endpoints
    from kassa.webhooks.outbound.config import OutboundConfig

    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = url
    if events is not None:
        changes["enabled_events"] = [e.strip() for e in events.split(",") if e.strip()]
    if enable is not None:
        changes["enabled"] = enable
    settings = composed_settings()

    async def go(session: AsyncSession) -> dict[str, Any]:
        endpoint = await endpoints.update_endpoint(
            session,
            account_id=account,
            livemode=live,
            endpoint_id=endpoint_id,
            changes=changes,
            config=OutboundConfig.from_settings(settings),
        )
        return endpoints.to_dict(endpoint)

    print_json(in_transaction(go, settings))


@app.command("rotate-secret")
def rotate_secret(
    endpoint_id: Annotated[str, typer.Argument(help="we_...")],
    account: Account,
    grace_hours: Annotated[float | None, typer.Option(help="Old secret keeps signing.")] = None,
    live: Live = False,
) -> None:
    """Rotate the signing secret and print the new one."""
    from kassa.webhooks.outbound import endpoints
    from kassa.webhooks.outbound.config import OutboundConfig

    settings = composed_settings()
    config = OutboundConfig.from_settings(settings)

    async def go(session: AsyncSession) -> dict[str, Any]:
        issued = await endpoints.rotate_secret(
            session,
            account_id=account,
            livemode=live,
            endpoint_id=endpoint_id,
            grace=config.secret_grace if grace_hours is None else timedelta(hours=grace_hours),
            box=endpoints.secret_box(settings.secret_key_bytes()),
        )
        return {"id": issued.endpoint.id, "secret": issued.secret}

    print_json(in_transaction(go, settings))


@app.command("test")
def send_test(
    endpoint_id: Annotated[str, typer.Argument(help="we_...")], account: Account, live: Live = False
) -> None:
    """Send a webhook_endpoint.ping event to the endpoint (a worker delivers it)."""
    from kassa.webhooks.outbound import replay

    async def go(session: AsyncSession) -> str:
        delivery = await replay.send_test(
            session, account_id=account, livemode=live, endpoint_id=endpoint_id
        )
        return f"queued {delivery.id} (event {delivery.event_id})"

    typer.echo(in_transaction(go))


@app.command("events")
def events(
    account: Account,
    type: Annotated[str | None, typer.Option(help="A type or wildcard.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Created at or after (UTC).")] = None,
    limit: Annotated[int, typer.Option()] = 20,
    live: Live = False,
    as_json: JsonOption = False,
) -> None:
    """List events, newest first."""
    from kassa.jobs.models import Event
    from kassa.webhooks.outbound import event_log

    async def go(session: AsyncSession) -> list[dict[str, Any]]:
        query = event_log.events_query(
            account_id=account,
            livemode=live,
            type_pattern=type,
            created_gte=since.replace(tzinfo=UTC) if since and since.tzinfo is None else since,
        )
        rows = await session.scalars(query.order_by(Event.id.desc()).limit(limit))
        return [
            {"id": e.id, "type": e.type, "created_at": e.created_at, "data": e.data}
            for e in rows.all()
        ]

    print_list(in_transaction(go), as_json=as_json)


@app.command("event")
def event(
    event_id: Annotated[str, typer.Argument(help="evt_...")], account: Account, live: Live = False
) -> None:
    """Show an event with its deliveries and their attempts."""
    from kassa.webhooks.outbound import event_log

    async def go(session: AsyncSession) -> dict[str, Any]:
        found = await event_log.get_event(
            session, account_id=account, livemode=live, event_id=event_id
        )
        deliveries = await event_log.deliveries_of_event(session, found.id)
        return {
            "id": found.id,
            "type": found.type,
            "created_at": found.created_at,
            "data": found.data,
            "deliveries": [
                {
                    "id": d.id,
                    "webhook_endpoint": d.endpoint_id,
                    "status": d.status,
                    "attempts": [
                        {
                            "at": a.created_at,
                            "trigger": a.trigger,
                            "status": a.response_status,
                            "error": a.error,
                            "duration_ms": a.duration_ms,
                        }
                        for a in attempts
                    ],
                }
                for d, attempts in deliveries
            ],
        }

    print_json(in_transaction(go))


@app.command("replay")
def replay_cmd(
    event_id: Annotated[str, typer.Argument(help="evt_...")],
    account: Account,
    endpoint: Annotated[str, typer.Option(help="we_...")],
    live: Live = False,
) -> None:
    """Send an event again to one endpoint (same webhook-id, fresh signature)."""
    from kassa.webhooks.outbound import replay

    async def go(session: AsyncSession) -> str:
        delivery = await replay.replay_event(
            session, account_id=account, livemode=live, event_id=event_id, endpoint_id=endpoint
        )
        return f"queued {delivery.id}"

    typer.echo(in_transaction(go))


@app.command("recover")
def recover(
    endpoint_id: Annotated[str, typer.Argument(help="we_...")],
    account: Account,
    hours: Annotated[float, typer.Option(help="Failed deliveries of the last N hours.")] = 24,
    live: Live = False,
) -> None:
    """Send again every failed delivery of the endpoint since N hours ago (at most 14 days)."""
    from kassa.core import clock
    from kassa.webhooks.outbound import replay

    async def go(session: AsyncSession) -> str:
        count = await replay.recover_failed(
            session,
            account_id=account,
            livemode=live,
            endpoint_id=endpoint_id,
            since=clock.now() - timedelta(hours=hours),
        )
        return f"queued {count} failed deliveries again"

    typer.echo(in_transaction(go))
