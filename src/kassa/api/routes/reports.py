"""Reports: /v1/reports/reconciliation (CSV: kassa beside the provider, per day)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kassa.api.deps import ReadAccess, Session, app_state
from kassa.api.routes._payins_common import providers
from kassa.api.times import Day
from kassa.payins.report import build_report

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get(
    "/reports/reconciliation",
    summary="Daily reconciliation report (provider vs kassa) as CSV",
    response_class=Response,
    responses={
        200: {
            "description": "One CSV row per payment created that UTC day: kassa beside the "
            "provider (see docs/payments.md).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def reconciliation_report(
    principal: ReadAccess,
    session: Session,
    request: Request,
    day: Annotated[Day, Query(alias="date", description="The UTC day, YYYY-MM-DD.")],
) -> Response:
    account_id = principal.require_account()
    if session.in_transaction():
        await session.commit()
    text = await build_report(
        app_state(request).sessions,
        providers(request),
        day=day,
        account_id=account_id,
        livemode=principal.livemode,
    )
    filename = f"reconciliation-{day.isoformat()}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
