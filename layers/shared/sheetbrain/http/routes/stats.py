"""GET /api/stats: statistics of the caller's organization."""

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from sheetbrain.http.resolver import authenticate
from sheetbrain.tenancy.service import org_stats

router = APIGatewayHttpRouter()


class StatsOut(BaseModel):
    org_id: str
    name: str
    personal: bool
    users: int
    policies: int
    audits_total: int
    audits_this_month: int
    plan: str
    status: str = Field(description="Subscription status; 'none' without a subscription")


@router.get("/api/stats", summary="Organization statistics", tags=["tenancy"])
def get_stats() -> StatsOut:
    identity = authenticate(router)
    return StatsOut(**org_stats(identity)._asdict())
