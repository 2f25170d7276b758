"""The event catalog: every event type kassa emits, with a description and an example.

Each context declares its event types here at import time (``declare_event``); ``emit()``
refuses an undeclared type, so the catalog (and docs/webhooks.md generated from it) cannot
drift from what the code sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    example: dict[str, Any] = field(default_factory=dict)


CATALOG: dict[str, EventType] = {}


def declare_event(name: str, description: str, example: dict[str, Any] | None = None) -> None:
    if "." not in name:
        raise ValueError(f"event types are '<object>.<verb>', got {name!r}")
    CATALOG[name] = EventType(name, description, example or {})


def is_declared(name: str) -> bool:
    return name in CATALOG


def all_event_types() -> list[EventType]:
    return sorted(CATALOG.values(), key=lambda e: e.name)
