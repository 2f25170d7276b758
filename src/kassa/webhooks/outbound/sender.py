"""One HTTP POST to an endpoint, with the SSRF guard, a timeout and no redirects.

One aiohttp session per process (aiohttp sustains far more concurrent POSTs than httpx, see
DESIGN.md); its resolver drops non-public addresses, so what is checked is what is connected to.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from kassa.webhooks.outbound.targets import GuardedResolver, TargetRefused, check_literal_target

BODY_EXCERPT_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    status: int | None
    body: str | None
    error: str | None
    duration_ms: int
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@functools.lru_cache(maxsize=4096)
def _check_literal(url: str, allow_private: bool) -> None:
    """The URL's own check, remembered: it depends on nothing else (DNS is checked apart, by
    the resolver, on every connection). A refusal raises, and is not cached."""
    check_literal_target(urlsplit(url).hostname or "", allow_private=allow_private)


class Sender:
    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None
        self._closer: asyncio.Task[None] | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                resolver=GuardedResolver(allow_private=self.allow_private),
                ttl_dns_cache=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # post() bounds the whole exchange with asyncio.timeout; a second timer per
                # request here cost measurable CPU at thousands of deliveries a second.
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,  # never through an environment proxy
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._closer = asyncio.create_task(self._close_at_shutdown(self._session))
        return self._session

    @staticmethod
    async def _close_at_shutdown(session: aiohttp.ClientSession) -> None:
        """asyncio.run() cancels this task when the worker's loop ends: close the session then,
        as the worker has no shutdown hook for it."""
        try:
            await asyncio.Event().wait()
        finally:
            if not session.closed:
                await session.close()

    async def close(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Outcome:
        started = time.perf_counter()

        def took() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            _check_literal(url, self.allow_private)
            async with (
                asyncio.timeout(self.timeout),
                self._http().post(url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                excerpt = bytearray()
                while len(excerpt) < BODY_EXCERPT_BYTES:
                    chunk = await resp.content.read(BODY_EXCERPT_BYTES - len(excerpt))
                    if not chunk:
                        break
                    excerpt += chunk
                error = None
                if 300 <= resp.status < 400:
                    location = resp.headers.get("Location", "")
                    error = f"redirect not followed (HTTP {resp.status} to {location[:200]!r})"
                elif not 200 <= resp.status < 300:
                    error = f"HTTP {resp.status}"
                return Outcome(
                    resp.status,
                    excerpt.decode("utf-8", errors="replace"),
                    error,
                    took(),
                    resp.headers.get("Retry-After"),
                )
        except TargetRefused as exc:
            return Outcome(None, None, str(exc), took())
        except aiohttp.ClientConnectorDNSError as exc:
            cause = exc.os_error
            message = (
                str(cause) if isinstance(cause, TargetRefused) else f"DNS lookup failed: {exc}"
            )
            return Outcome(None, None, message, took())
        except TimeoutError:
            return Outcome(None, None, f"timed out after {self.timeout:g} s", took())
        except aiohttp.ClientConnectorError as exc:
            return Outcome(None, None, f"connection failed: {exc.os_error}", took())
        except aiohttp.ServerDisconnectedError:
            return Outcome(None, None, "the server closed the connection without answering", took())
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(None, None, f"{type(exc).__name__}: {exc}"[:500], took())
