"""A Rise B2B API stand-in (aiohttp on 127.0.0.1) that checks what Rise checks."""

from tests.fakes.rise.server import RiseStandIn

__all__ = ["RiseStandIn"]
