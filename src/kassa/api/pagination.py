"""Cursor pagination, as Stripe's: newest first, ``limit`` and one cursor (an object id).

``starting_after=<id>`` is the page of objects after that one (older), ``ending_before=<id>``
the page just before it (newer), still newest first. ``has_more`` says whether more objects
follow in the direction asked. A route takes ``page: Page`` and hands it to ``fetch_page``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query
from pydantic import Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kassa.api.errors import CURSOR_MISSING, PARAMETER_CONFLICT
from kassa.core.schemas import Out

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="How many objects, 1 to 100.")]
StartingAfter = Annotated[
    str | None,
    Query(max_length=255, description="An object id: the page of objects after it (older)."),
]
EndingBefore = Annotated[
    str | None,
    Query(
        max_length=255,
        description="An object id: the page of objects just before it (newer), still newest "
        "first. Not together with starting_after.",
    ),
]


class ListResponse(Out, Generic[T]):
    """A page of objects, newest first: a list route's ``response_model`` is
    ``ListResponse[XOut]`` (``XList`` in /openapi.json)."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool = Field(description="Whether more objects follow in the direction asked.")


@dataclass(frozen=True)
class Cursor:
    limit: int = 20
    starting_after: str | None = None
    ending_before: str | None = None


def page_query(
    limit: Limit = 20, starting_after: StartingAfter = None, ending_before: EndingBefore = None
) -> Cursor:
    """The pagination query parameters of a list endpoint; both cursors at once is refused
    (which page would that be?)."""
    if starting_after and ending_before:
        message = "Give starting_after or ending_before, not both."
        raise PARAMETER_CONFLICT(
            message,
            param="ending_before",
            details={
                "errors": [
                    {"param": "starting_after", "message": message},
                    {"param": "ending_before", "message": message},
                ]
            },
        )
    return Cursor(limit, starting_after, ending_before)


Page = Annotated[Cursor, Depends(page_query)]


async def _refuse_unknown(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    cursor: str,
    param: str,
) -> None:
    """A cursor that is not one of ``query``'s objects is refused, as Stripe does, rather than
    silently giving some other page."""
    found = await session.scalar(
        query.with_only_columns(id_column).where(id_column == cursor).limit(1)
    )
    if found is None:
        raise CURSOR_MISSING(f"No such object: {cursor!r}.", param=param)


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[str],
    page: Cursor,
) -> tuple[Sequence[Any], bool]:
    """One page of ``query``'s rows, newest first (ids sort by creation time), and whether
    more follow beyond it in the direction of the cursor."""
    if page.ending_before:
        await _refuse_unknown(session, query, id_column, page.ending_before, "ending_before")
        newer = query.where(id_column > page.ending_before).order_by(id_column.asc())
        rows = (await session.scalars(newer.limit(page.limit + 1))).all()
        return list(reversed(rows[: page.limit])), len(rows) > page.limit
    if page.starting_after:
        await _refuse_unknown(session, query, id_column, page.starting_after, "starting_after")
        query = query.where(id_column < page.starting_after)
    rows = (await session.scalars(query.order_by(id_column.desc()).limit(page.limit + 1))).all()
    return rows[: page.limit], len(rows) > page.limit
