"""Braintree's XML as the gateway writes it: dashed element names, ``type`` attributes for
integers, booleans, datetimes and arrays, ``nil="true"`` for nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from braintree.util.xml_util import XmlUtil


@dataclass
class Array:
    """``<tag type="array"><item_tag>..</item_tag>...</tag>``"""

    item_tag: str
    items: list[Any]


@dataclass
class Collection:
    """Repeated ``<item_tag>`` children in a ``type="collection"`` element (search pages)."""

    item_tag: str
    items: list[Any]
    page_size: int = 50
    total: int | None = None  # all items across pages (default: these)


def _tag(name: str) -> str:
    return name.replace("_", "-")


def element(name: str, value: Any) -> str:
    tag = _tag(name)
    if value is None:
        return f'<{tag} nil="true"/>'
    if isinstance(value, bool):
        return f'<{tag} type="boolean">{str(value).lower()}</{tag}>'
    if isinstance(value, int):
        return f'<{tag} type="integer">{value}</{tag}>'
    if isinstance(value, datetime):
        return f'<{tag} type="datetime">{value.strftime("%Y-%m-%dT%H:%M:%SZ")}</{tag}>'
    if isinstance(value, date):
        return f'<{tag} type="date">{value.isoformat()}</{tag}>'
    if isinstance(value, Decimal | str):
        return f"<{tag}>{escape(str(value))}</{tag}>"
    if isinstance(value, dict):
        inner = "".join(element(k, v) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, Array):
        if not value.items:
            return f'<{tag} type="array"/>'
        inner = "".join(element(value.item_tag, item) for item in value.items)
        return f'<{tag} type="array">{inner}</{tag}>'
    if isinstance(value, Collection):
        inner = (
            element("current_page_number", 1)
            + element("page_size", value.page_size)
            + element("total_items", len(value.items) if value.total is None else value.total)
            + "".join(element(value.item_tag, item) for item in value.items)
        )
        return f'<{tag} type="collection">{inner}</{tag}>'
    raise TypeError(f"no XML for {type(value).__name__}")


def document(name: str, value: Any) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + element(name, value)).encode()


def parse(body: bytes) -> dict[str, Any]:
    """A request body as the gateway reads it (the SDK's own parser: dashes -> underscores)."""
    if not body.strip():
        return {}
    parsed: dict[str, Any] = XmlUtil.dict_from_xml(body)
    return parsed
