"""Node pool state outside the worker: /health and /metrics from what the worker's checks
recorded (never a URL path), and the alert when every node of a chain is down."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from kassa.chain import health
from kassa.chain.config import chains_of
from kassa.chain.devnode import free_port
from kassa.chain.nodes import NodePool
from kassa.jobs.models import Job
from tests.chain.conftest import Chain as Devchain
from tests.conftest import Backend
from tests.openapi_conformance import api_transport


async def test_health_and_metrics_show_each_node_without_its_path(
    chain: Devchain, db: Backend, tmp_path: Path
) -> None:
    from kassa.api.app import create_app

    dead = f"http://127.0.0.1:{free_port()}/v3/SECRETAPIKEY"
    config = {
        "local": {
            "chain_id": chain.node.chain_id,
            "rpc_urls": [dead, chain.node.url],
            "confirmations": 1,
            "tokens": {"USDC": {"address": chain.token, "decimals": 6}},
        }
    }
    settings = db.settings(tmp_path, chains=config)
    pool = NodePool(chains_of(settings)["local"], timeout=1, max_lag=5)
    app = create_app(settings)
    try:
        await pool.check()
        await health.record(db.sessions, pool)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as http,
        ):
            body = (await http.get("/health")).json()
            metrics = (await http.get("/metrics")).text
    finally:
        await pool.aclose()
    local = body["checks"]["chains"]["chains"]["local"]
    assert local["status"] == "ok"
    assert [(n["status"], n["node"].split(":")[-1]) for n in local["nodes"]] == [
        ("down", dead.split(":")[-1].split("/")[0]),
        ("ok", chain.node.url.split(":")[-1]),
    ]
    assert local["nodes"][1]["block_height"] >= 1
    assert "SECRETAPIKEY" not in str(body) and "/v3" not in str(body)
    assert 'kassa_chain_node_up{chain="local",node="' + chain.node.url + '"} 1.0' in metrics
    assert "SECRETAPIKEY" not in metrics


async def test_every_node_down_alerts_the_admins_once_per_outage(
    db: Backend, tmp_path: Path
) -> None:
    config = {
        "local": {
            "chain_id": 31337,
            "rpc_urls": [f"http://127.0.0.1:{free_port()}"],
            "confirmations": 1,
        }
    }
    chain = chains_of(db.settings(tmp_path, chains=config))["local"]

    async def alerts() -> list[Job]:
        async with db.sessions() as s:
            return list(await s.scalars(select(Job).where(Job.name == health.ALERT_JOB)))

    assert not await health.note_outage(db.sessions, chain, down=True, alert_after=3600)
    assert await alerts() == []  # not down long enough yet
    assert await health.note_outage(db.sessions, chain, down=True, alert_after=0)
    assert not await health.note_outage(db.sessions, chain, down=True, alert_after=0)
    [alert] = await alerts()
    assert "every RPC node of local is down" in alert.args["subject"]
    assert not await health.note_outage(db.sessions, chain, down=False, alert_after=0)
    assert await health.note_outage(db.sessions, chain, down=True, alert_after=0)  # a new one
    assert len(await alerts()) == 2
