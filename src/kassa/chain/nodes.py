"""Several RPC nodes per chain: health-checked, and used best first with failover.

Each check asks every node its block height (concurrently) and times it. A node is usable
when it answered its last check and is at most ``max_lag`` blocks behind the highest one
(a lagging node would make kassa see transfers late and count confirmations short). Calls go
to the usable nodes in order (fewest recent errors, then lowest latency) and move to the next
on a transient error; when none answers, ``NoNodeAvailable``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Gauge

from kassa.chain.config import Chain
from kassa.chain.rpc import Call, RpcClient, RpcError, hex_int
from kassa.core.metrics import REGISTRY

node_up = Gauge(
    "kassa_chain_node_up",
    "1 when the node answered its last health check and is not lagging, else 0.",
    ["chain", "node"],
    registry=REGISTRY,
)
node_height = Gauge(
    "kassa_chain_node_block_height",
    "The block height the node reported at its last health check.",
    ["chain", "node"],
    registry=REGISTRY,
)


class NoNodeAvailable(RpcError):
    """Every node of the chain failed or lags: nothing can be read from the chain now."""


@dataclass
class NodeState:
    client: RpcClient
    height: int | None = None
    latency_ms: float | None = None
    errors: int = 0  # consecutive failed checks or calls
    last_error: str | None = None
    lagging: bool = False

    @property
    def answering(self) -> bool:
        return self.height is not None and self.errors == 0

    def health(self) -> dict[str, object]:
        return {
            "node": self.client.name,
            "status": "ok" if self.answering and not self.lagging else "down",
            "block_height": self.height,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "lagging": self.lagging,
            "last_error": self.last_error,
        }


class NodePool:
    def __init__(self, chain: Chain, *, timeout: float, max_lag: int) -> None:
        self.chain = chain
        self.max_lag = max_lag
        self.nodes = [NodeState(RpcClient(url, timeout=timeout)) for url in chain.rpc_urls]

    async def aclose(self) -> None:
        for node in self.nodes:
            await node.client.aclose()

    @property
    def calls(self) -> int:
        return sum(n.client.calls for n in self.nodes)

    async def _check(self, node: NodeState) -> None:
        started = time.perf_counter()
        try:
            node.height = hex_int(await node.client.call("eth_blockNumber"))
        except (RpcError, ValueError) as exc:
            node.height, node.errors = None, node.errors + 1
            node.last_error = str(exc)
            return
        node.latency_ms = (time.perf_counter() - started) * 1000
        node.errors, node.last_error = 0, None

    async def check(self) -> int:
        """Ask every node its height; returns the highest (NoNodeAvailable if none answers)."""
        await asyncio.gather(*(self._check(n) for n in self.nodes))
        heights = [n.height for n in self.nodes if n.height is not None]
        top = max(heights, default=None)
        for node in self.nodes:
            node.lagging = (
                top is not None and node.height is not None and (top - node.height > self.max_lag)
            )
            labels = (self.chain.key, node.client.name)
            node_up.labels(*labels).set(1 if node.answering and not node.lagging else 0)
            if node.height is not None:
                node_height.labels(*labels).set(node.height)
        if top is None:
            raise NoNodeAvailable(f"No RPC node of {self.chain.key} answers.", url=self.chain.key)
        return top

    def usable(self) -> list[NodeState]:
        ready = [n for n in self.nodes if n.answering and not n.lagging]
        return sorted(ready, key=lambda n: (n.errors, n.latency_ms or 0.0))

    async def _each(self, attempt: Any) -> Any:
        errors: list[str] = []
        for node in self.usable():
            try:
                return await attempt(node.client)
            except RpcError as exc:
                if not exc.transient:
                    raise
                node.errors += 1
                node.last_error = str(exc)
                errors.append(str(exc))
        raise NoNodeAvailable(
            f"No RPC node of {self.chain.key} could answer ({'; '.join(errors) or 'none usable'}).",
            url=self.chain.key,
        )

    async def call(self, method: str, *params: Any) -> Any:
        return await self._each(lambda client: client.call(method, *params))

    async def batch(self, calls: list[Call]) -> list[Any]:
        return list(await self._each(lambda client: client.batch(calls)))

    def health(self) -> dict[str, object]:
        nodes = [n.health() for n in self.nodes]
        up = any(n["status"] == "ok" for n in nodes)
        return {"status": "ok" if up else "down", "nodes": nodes}
