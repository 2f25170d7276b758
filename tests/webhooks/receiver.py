"""A real HTTP receiver on 127.0.0.1 that answers as each test tells it to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


async def ok(_: web.Request) -> web.StreamResponse:
    return web.json_response({"received": True})


def status(code: int, headers: dict[str, str] | None = None, body: str = "") -> Behaviour:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=headers, text=body)

    return answer


def close_connection() -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0)
        return web.Response()

    return answer


@dataclass
class Receiver:
    """Serves ``/<name>`` paths; ``behave(name, fn)`` sets how a path answers (default 200)."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def url(self, name: str = "hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{name}"

    def behave(self, name: str, behaviour: Behaviour) -> None:
        self.behaviours[name] = behaviour

    def hang(self, name: str) -> None:
        async def answer(_: web.Request) -> web.StreamResponse:
            await self.release.wait()
            return web.Response()

        self.behaviours[name] = answer

    def at(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/{name}"]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body, time.time()))
        self.arrived.set()
        behaviour = self.behaviours.get(request.path.lstrip("/"), ok)
        return await behaviour(request)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
