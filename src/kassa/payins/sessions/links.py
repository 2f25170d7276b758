"""The hosted checkout page's URL of a session, the same in API responses and in event
payloads (which the worker builds, away from any request): KASSA_PUBLIC_URL, else the host
and port kassa listens on, as ``Settings.base_url`` says. Set once per process by the
composition root."""

from __future__ import annotations

_base: list[str] = []  # the process's public base URL, once known


def set_public_url(base_url: str) -> None:
    _base[:] = [base_url.rstrip("/")]


def checkout_url(session_id: str) -> str | None:
    return f"{_base[0]}/checkout/{session_id}" if _base else None
