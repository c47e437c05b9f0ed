"""GET /api/stats: statistics of the caller's organization."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sheetbrain.http.resolver import authenticate
from sheetbrain.tenancy.service import org_stats

router = APIGatewayHttpRouter()


class StatsOut(BaseModel):
    org_id: str
    name: str
    personal: bool
    users: int


@router.get("/api/stats", summary="Organization statistics", tags=["tenancy"])
def get_stats() -> StatsOut:
    identity = authenticate(router)
    stats = org_stats(identity)
    return StatsOut(org_id=stats.org_id, name=stats.name, personal=stats.personal, users=stats.users)
