"""Run the Stripe stand-in by itself: ``python -m tests.fakes.stripe [--port N]
[--webhook-url URL] [--webhook-secret whsec_...]``, then point kassa at it with
``KASSA_STRIPE_API_BASE`` and ``KASSA_STRIPE_SECRET_KEY`` (the key it prints)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from aiohttp import web

from tests.fakes.stripe.server import TEST_KEY, WEBHOOK_SECRET, FakeStripe


async def serve(port: int, webhook_url: str | None, webhook_secret: str) -> None:
    fake = FakeStripe()
    await fake.start()
    if port:  # a fixed port as well as the random one, for a kassa started by hand
        runner = fake._runner
        assert runner is not None
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        fake.base_url = f"http://127.0.0.1:{port}"
    if webhook_url:
        fake.add_webhook_endpoint(webhook_url, webhook_secret)
    print(f"KASSA_STRIPE_API_BASE={fake.base_url}")
    print(f"KASSA_STRIPE_SECRET_KEY={TEST_KEY}")
    print(f"KASSA_STRIPE_WEBHOOK_SECRET={webhook_secret}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret", default=WEBHOOK_SECRET)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.webhook_url, args.webhook_secret))


if __name__ == "__main__":
    main()
