"""/api/notifications*: web push subscriptions, the org's thresholds, the history (the billing
function, next to the usage they are about)."""

from datetime import date, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from sheetbrain.db.push_repo import HistoryRow
from sheetbrain.http.models import RequestModel, path_id
from sheetbrain.http.pagination import CURSOR_DESCRIPTION, INT_CURSOR_PATTERN, decode_int_cursor, encode_int_cursor
from sheetbrain.http.resolver import authenticate
from sheetbrain.notifications import service
from sheetbrain.notifications.endpoints import MAX_ENDPOINT_CHARS

router = APIGatewayHttpRouter()


class VapidKeyOut(BaseModel):
    public_key: str = Field(
        description="base64url uncompressed P-256 point: pushManager.subscribe's applicationServerKey"
    )


class SubscriptionKeysIn(BaseModel):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class SubscriptionIn(RequestModel):
    """A browser PushSubscription as its toJSON() gives it (expirationTime is accepted, unused)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(
        min_length=1,
        max_length=MAX_ENDPOINT_CHARS,
        description="The push service's URL: https, on a host of this deployment's allow-list "
        "(WEBPUSH_ALLOWED_HOSTS; by default Google's FCM, Mozilla, Apple and Microsoft's push services), "
        "resolving to public addresses only; any other is refused with 422.",
    )
    keys: SubscriptionKeysIn
    expirationTime: float | None = None


class SubscriptionOut(BaseModel):
    subscription_id: str


# Whole percentages of a metered limit, 1 to 5 distinct ones per metric (the service refuses
# repeats; the document says so with uniqueItems).
def _whole(value: object) -> object:
    # JSON's integer is a number without a fraction: 80.0 is 80, as JSON Schema's "integer" says.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Levels = Annotated[
    list[Annotated[Annotated[StrictInt, Field(ge=1, le=100)], BeforeValidator(_whole)]],
    Field(min_length=1, max_length=5, json_schema_extra={"uniqueItems": True}),
]


class ThresholdLevels(BaseModel):
    """One entry per metered metric (metering.quota.METERED); a metric left out gets 50, 80, 100."""

    model_config = ConfigDict(extra="forbid")

    audits_per_month: Levels | None = None
    ai_tokens_per_month: Levels | None = None


class ThresholdsBody(RequestModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: ThresholdLevels = Field(
        description="Per metered metric, 1 to 5 whole percentages from 1 to 100; a metric left out gets 50, 80, 100"
    )


class ThresholdsOut(BaseModel):
    thresholds: dict[str, list[int]]


class DeliveryOut(BaseModel):
    channel: str = Field(description="webpush or eventbridge")
    status: str = Field(description="pending, sent, failed, gone (subscription removed after 404/410), cancelled")
    at: datetime


class NotificationOut(BaseModel):
    id: int
    kind: str
    metric: str
    threshold: int
    used: int
    limit: int
    period: date
    created_at: datetime
    deliveries: list[DeliveryOut]


class NotificationListOut(BaseModel):
    notifications: list[NotificationOut]
    next_cursor: str | None


@router.get(
    "/api/notifications/vapid-public-key",
    summary="The VAPID public key for pushManager.subscribe",
    tags=["notifications"],
)
def get_vapid_public_key() -> VapidKeyOut:
    authenticate(router)
    return VapidKeyOut(public_key=service.vapid_public_key())


@router.post(
    "/api/notifications/subscriptions",
    summary="Subscribe this browser to the org's threshold notifications",
    tags=["notifications"],
    responses={
        200: {"description": "Already subscribed (keys refreshed)"},
        201: {
            "description": "Subscribed",
            "content": {"application/json": {"schema": SubscriptionOut.model_json_schema()}},
        },
    },
)
def post_subscription(body: SubscriptionIn) -> Response[str]:
    stored = service.subscribe(
        authenticate(router), endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth
    )
    out = SubscriptionOut(subscription_id=str(stored.subscription_id))
    return Response(
        status_code=201 if stored.created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=out.model_dump_json(),
    )


@router.delete(
    "/api/notifications/subscriptions/<subscription_id>",
    summary="Delete one of the caller's own push subscriptions",
    tags=["notifications"],
)
def delete_subscription(
    subscription_id: Annotated[str, Path(description="One of the caller's subscriptions; any other is 404")],
) -> Response[str]:
    identity = authenticate(router)
    service.unsubscribe(identity, path_id(subscription_id, "subscription"))
    return Response(status_code=204, body="")


@router.get("/api/notifications/thresholds", summary="The org's alert thresholds per metric", tags=["notifications"])
def get_thresholds() -> ThresholdsOut:
    return ThresholdsOut(thresholds=service.thresholds(authenticate(router)))


@router.put("/api/notifications/thresholds", summary="Set the org's alert thresholds (admin)", tags=["notifications"])
def put_thresholds(body: ThresholdsBody) -> ThresholdsOut:
    levels = body.thresholds.model_dump(exclude_none=True)
    return ThresholdsOut(thresholds=service.replace_thresholds(authenticate(router), levels))


def _eventbridge(row: HistoryRow) -> DeliveryOut:
    status, at = service.event_delivery(row)
    return DeliveryOut(channel="eventbridge", status=status, at=at)


@router.get("/api/notifications", summary="The org's notification history, newest first", tags=["notifications"])
def get_notifications(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=INT_CURSOR_PATTERN, description=CURSOR_DESCRIPTION)] = None,
) -> NotificationListOut:
    rows = service.history(authenticate(router), limit=limit, cursor=decode_int_cursor(cursor))
    next_cursor = encode_int_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == limit else None
    return NotificationListOut(
        notifications=[
            NotificationOut(
                id=r.id,
                kind=r.kind,
                metric=r.feature,
                threshold=r.threshold,
                used=r.used,
                limit=r.lim,
                period=r.period,
                created_at=r.created_at,
                deliveries=[_eventbridge(r), *(DeliveryOut.model_validate(d) for d in r.deliveries)],
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )
