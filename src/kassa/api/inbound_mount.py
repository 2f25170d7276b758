"""The inbound provider webhooks (``/webhooks/...``) beside the FastAPI app: a plain ASGI
endpoint in front of the API's middleware, which is for API clients, not for providers
(docs/decisions/0009)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from kassa.webhooks.inbound.receiver import InboundReceiver


class MountInbound:
    def __init__(self, app: ASGIApp, *, receiver: InboundReceiver) -> None:
        self.app = app
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.receiver.handles(scope):
            await self.receiver(scope, receive, send)
        else:
            await self.app(scope, receive, send)
