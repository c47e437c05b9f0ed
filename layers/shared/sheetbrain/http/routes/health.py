"""GET /api/health: liveness plus a database round-trip."""

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from sheetbrain.config import get_settings
from sheetbrain.db.connection import ping

router = APIGatewayHttpRouter()


class HealthOut(BaseModel):
    status: str
    database: str
    version: str


@router.get("/api/health", summary="Service and database health", tags=["health"])
def get_health() -> HealthOut:
    """200 when the database answers; 503 ``dependency_unavailable`` when it does not."""
    ping()
    return HealthOut(status="ok", database="ok", version=get_settings().version)
