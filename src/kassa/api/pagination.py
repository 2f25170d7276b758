"""Cursor pagination: ``limit`` and ``starting_after`` (an object id), newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kassa.core.errors import InvalidRequest

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="How many objects, 1 to 100.")]
StartingAfter = Annotated[
    str | None, Query(description="An object id: return the objects after it (older ones).")
]


class ListResponse(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    *,
    limit: int,
    starting_after: str | None,
) -> tuple[Sequence[Any], bool]:
    """Rows of ``query`` newest first, after the cursor; and whether more follow. A cursor that
    is not one of ``query``'s objects is refused, as Stripe does, rather than ignored."""
    if starting_after:
        found = await session.scalar(
            query.with_only_columns(id_column).where(id_column == starting_after).limit(1)
        )
        if found is None:
            raise InvalidRequest(
                f"No such object: {starting_after!r}.",
                code="resource_missing",
                param="starting_after",
            )
        query = query.where(id_column < starting_after)
    rows = (await session.scalars(query.order_by(id_column.desc()).limit(limit + 1))).all()
    return rows[:limit], len(rows) > limit
