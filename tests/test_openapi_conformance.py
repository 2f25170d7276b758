"""The tests' transport refuses every response its operation's documentation does not describe
(so the whole suite holds kassa to its /openapi.json)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tests.openapi_conformance import api_transport


class Thing(BaseModel):
    id: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}", response_model=Thing)
    async def thing(thing_id: str) -> Any:
        if thing_id == "wrong":
            return JSONResponse({"id": "wrong", "count": "many"})  # not what it documents
        if thing_id == "teapot":
            return JSONResponse({"id": "t", "count": 1}, status_code=418)
        return Thing(id=thing_id, count=1)

    @app.get(
        "/report",
        response_class=Response,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def report(as_json: bool = False) -> Response:
        if as_json:
            return JSONResponse({"rows": []})
        return Response("a,b\n", media_type="text/csv")

    return app


async def _get(path: str) -> httpx.Response:
    transport = api_transport(_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_a_documented_response_passes() -> None:
    assert (await _get("/things/a")).json() == {"id": "a", "count": 1}
    assert (await _get("/report")).text == "a,b\n"


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/things/wrong", "count: 'many' is not of type 'integer'"),
        ("/things/teapot", "status 418 is not documented"),
        ("/report?as_json=true", "application/json is not documented"),
    ],
)
async def test_an_undocumented_response_fails_the_test_that_got_it(path: str, why: str) -> None:
    with pytest.raises(AssertionError, match=why):
        await _get(path)
