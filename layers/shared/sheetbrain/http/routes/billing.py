"""Billing and usage routes (the billing function)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field

from sheetbrain.billing import service
from sheetbrain.billing.plans import PaidPlan
from sheetbrain.billing.redirects import check_redirect_url, parse_origins
from sheetbrain.config import get_settings
from sheetbrain.http.models import OPENAPI_EXTENSION, RequestModel
from sheetbrain.http.resolver import authenticate
from sheetbrain.metering.usage import MAX_DAYS, usage_series

router = APIGatewayHttpRouter()


class UsageLineOut(BaseModel):
    feature: str
    used: int
    limit: int = Field(description="-1 means unlimited")


class BillingOut(BaseModel):
    plan: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    entitlements: dict[str, int]
    usage: list[UsageLineOut]
    usage_resets_at: datetime


def _allowed_redirect(url: AnyHttpUrl) -> AnyHttpUrl:
    settings = get_settings()
    in_aws = settings.environment == "aws"
    return check_redirect_url(url, parse_origins(settings.allowed_redirect_origins, in_aws=in_aws), in_aws=in_aws)


RedirectUrl = Annotated[
    AnyHttpUrl,
    AfterValidator(_allowed_redirect),
    Field(
        description="An https URL on one of the origins this deployment allows (ALLOWED_REDIRECT_ORIGINS: "
        "scheme, host and port compared exactly; no user info); any other is refused with 422."
    ),
]


class CheckoutIn(RequestModel):
    plan: PaidPlan
    success_url: RedirectUrl
    cancel_url: RedirectUrl


class PortalIn(RequestModel):
    return_url: RedirectUrl


class UrlOut(BaseModel):
    url: str


class UsagePointOut(BaseModel):
    period: date
    quantity: int


class UsageOut(BaseModel):
    metric: str
    granularity: str
    points: list[UsagePointOut]
    next_from: date | None = Field(
        description=(
            f"A daily series answers at most {MAX_DAYS} days: for a longer window, the `from` of its next page"
            " (with the same `to`); null when the answer reaches `to`"
        )
    )


@router.get("/api/billing", summary="Plan, subscription, entitlements and usage", tags=["billing"])
def get_billing() -> BillingOut:
    view = service.billing_view(authenticate(router))
    return BillingOut(
        plan=view.plan,
        status=view.status,
        current_period_end=view.current_period_end,
        cancel_at_period_end=view.cancel_at_period_end,
        entitlements=view.entitlements,
        usage=[UsageLineOut(feature=u.feature, used=u.used, limit=u.limit) for u in view.usage],
        usage_resets_at=view.usage_resets_at,
    )


@router.post(
    "/api/billing/checkout",
    summary="Start a Stripe Checkout for a plan (admin)",
    tags=["billing"],
    openapi_extensions={
        OPENAPI_EXTENSION: {
            "errors": {"409": "The organization already has a subscription (`conflict`): change it in the portal"}
        }
    },
)
def post_checkout(body: CheckoutIn) -> UrlOut:
    url = service.start_checkout(
        authenticate(router), plan=body.plan, success_url=str(body.success_url), cancel_url=str(body.cancel_url)
    )
    return UrlOut(url=url)


@router.post("/api/billing/portal", summary="Open the Stripe customer portal (admin)", tags=["billing"])
def post_portal(body: PortalIn) -> UrlOut:
    return UrlOut(url=service.open_portal(authenticate(router), return_url=str(body.return_url)))


# The dates a series may name; JSON Schema bounds no date string, so the years are a pattern.
_FIRST_DAY, _LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
_YEARS: dict[str, Any] = {"pattern": "^(?:20[0-9]{2}|2100)-"}
_FROM = "First day of the window (default: 29 days before `to`); a window starting after `to` is empty"
_TO = "Last day of the window (default: today, UTC)"


@router.get("/api/usage", summary="Usage series from the aggregates", tags=["billing"])
def get_usage(
    metric: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)] = "audits",
    start: Annotated[
        date | None, Query(alias="from", ge=_FIRST_DAY, le=_LAST_DAY, description=_FROM, json_schema_extra=_YEARS)
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", ge=_FIRST_DAY, le=_LAST_DAY, description=_TO, json_schema_extra=_YEARS)
    ] = None,
    granularity: Annotated[Literal["day", "month"], Query()] = "day",
) -> UsageOut:
    series = usage_series(authenticate(router), metric=metric, start=start, end=end, granularity=granularity)
    return UsageOut(
        metric=metric,
        granularity=granularity,
        points=[UsagePointOut(period=p.period, quantity=p.quantity) for p in series.points],
        next_from=series.next_from,
    )
