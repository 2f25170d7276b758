"""A JSON-RPC client for one EVM node (eth_blockNumber, eth_getLogs, eth_getBlockByNumber, ...).

Low volume (a few calls per block range), so httpx. A node's failure is an ``RpcError``:
``transient`` when another node, or the same one later, may answer (timeouts, 5xx, refused
connections, the node's own -32000 range of server errors); not when the request itself is
wrong. Batches go out as one HTTP request (JSON-RPC 2.0 batch), counted as one call.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx


class RpcError(Exception):
    def __init__(self, message: str, *, url: str, transient: bool = True) -> None:
        super().__init__(message)
        self.url = url
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: list[Any]


def _host(url: str) -> str:
    """For messages and metrics: scheme, host and port, never a path (RPC URLs often carry
    an API key in the path or the query)."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class RpcClient:
    def __init__(self, url: str, *, timeout: float, client: httpx.AsyncClient | None = None):
        self.url = url
        self.name = _host(url)
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._ids = itertools.count(1)
        self.calls = 0  # HTTP requests made: what the monitor's RPC budget counts

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, body: Any) -> Any:
        self.calls += 1
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise RpcError(f"{self.name}: {type(exc).__name__}", url=self.name) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RpcError(f"{self.name}: HTTP {response.status_code}", url=self.name)
        if response.status_code >= 400:
            raise RpcError(
                f"{self.name}: HTTP {response.status_code}", url=self.name, transient=False
            )
        try:
            return response.json()
        except ValueError:
            raise RpcError(f"{self.name}: not JSON", url=self.name) from None

    def _result(self, answer: Any) -> Any:
        if not isinstance(answer, dict):
            raise RpcError(f"{self.name}: malformed answer", url=self.name)
        error = answer.get("error")
        if error is not None:
            code = error.get("code", 0) if isinstance(error, dict) else 0
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            # -32000..-32099: the server's own trouble (limits, not synced); others: ours.
            transient = isinstance(code, int) and -32099 <= code <= -32000
            raise RpcError(f"{self.name}: {message[:200]}", url=self.name, transient=transient)
        return answer.get("result")

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return self._result(await self._post(body))

    async def batch(self, calls: list[Call]) -> list[Any]:
        """Several calls in one HTTP request; results in the order of ``calls``."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params}
            for i, c in zip(ids, calls, strict=True)
        ]
        answers = await self._post(body)
        if not isinstance(answers, list):
            raise RpcError(f"{self.name}: a batch answered with a single object", url=self.name)
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [self._result(by_id.get(i)) for i in ids]


def hex_int(value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"not a hex quantity: {value!r}")
    return int(value, 16)
