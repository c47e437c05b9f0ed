"""The notification routes' use cases: the VAPID public key, push subscriptions, the org's
thresholds and its notification history."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sheetbrain.config import get_settings
from sheetbrain.db import metering_repo, push_repo, tenant_transaction
from sheetbrain.errors import ConflictError, NotFoundError, ValidationError
from sheetbrain.metering.quota import METERED, month_start
from sheetbrain.notifications import endpoints
from sheetbrain.notifications.thresholds import DEFAULT_PERCENTS
from sheetbrain.notifications.thresholds import MAX_ATTEMPTS as EVENT_MAX_ATTEMPTS
from sheetbrain.tenancy.identity import Identity, require_admin

MAX_THRESHOLDS = 5


@functools.cache
def _public_key(private_key: str) -> str:
    from sheetbrain.notifications.webpush import vapid_public_key

    return vapid_public_key(private_key)


def vapid_public_key() -> str:
    """The key browsers pass to ``pushManager.subscribe`` (base64url uncompressed P-256 point)."""
    private_key, _ = get_settings().require_vapid()
    return _public_key(private_key)


def _key(value: str, *, field: str, length: int) -> bytes:
    from sheetbrain.notifications.webpush import b64url_decode

    try:
        raw = b64url_decode(value)
    except ValueError:
        raw = b""
    if len(raw) != length:
        raise ValidationError(
            f"The subscription's {field} key is not {length} bytes of base64url.",
            details={"field": f"body.keys.{field}"},
        )
    return raw


def subscribe(identity: Identity, *, endpoint: str, p256dh: str, auth: str) -> push_repo.Subscribed:
    """Store the caller's browser subscription (endpoint checked against the push services'
    allow-list, keys checked as a P-256 point and a 16-byte secret). The same endpoint again
    refreshes its keys and keeps its id; one held by another user or organization is a 409."""
    from sheetbrain.notifications.webpush import valid_receiver_key

    settings = get_settings()
    endpoints.parse_endpoint(
        endpoint,
        allow_list=endpoints.allowed_hosts(settings.webpush_allowed_hosts),
        allow_http=settings.webpush_allow_http,
    )
    receiver = _key(p256dh, field="p256dh", length=65)
    if not valid_receiver_key(receiver):
        raise ValidationError(
            "The subscription's p256dh key is not a point on P-256.", details={"field": "body.keys.p256dh"}
        )
    secret = _key(auth, field="auth", length=16)
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        try:
            stored = push_repo.subscribe(
                conn, org_id=identity.org_id, user_id=identity.user_id, endpoint=endpoint, p256dh=receiver, auth=secret
            )
        except LookupError as exc:
            raise ConflictError(
                f"At most {push_repo.MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per user and organization.",
                details={"limit": push_repo.MAX_SUBSCRIPTIONS_PER_USER},
            ) from exc
    if stored is None:
        raise ConflictError("This push endpoint is subscribed by another user or organization.")
    return stored


def unsubscribe(identity: Identity, subscription_id: uuid.UUID) -> None:
    """Delete one of the caller's own subscriptions; 404 for any other id."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        if not push_repo.delete_own(
            conn, org_id=identity.org_id, user_id=identity.user_id, subscription_id=subscription_id
        ):
            raise NotFoundError("Subscription not found.", details={"subscription_id": str(subscription_id)})


def thresholds(identity: Identity) -> dict[str, list[int]]:
    """The org's thresholds for every metered metric (its own, or 50/80/100)."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        own = push_repo.thresholds(conn, identity.org_id)
    return {metric: own.get(metric, list(DEFAULT_PERCENTS)) for metric in METERED}


def check_thresholds(values: Mapping[str, Sequence[int]]) -> dict[str, list[int]]:
    """The thresholds as stored (each list sorted), or a 422 naming the first problem: a metric
    that is not metered, no value or more than 5, a value outside 1..100, a value twice."""
    checked: dict[str, list[int]] = {}
    for metric, percents in values.items():
        field = f"body.thresholds.{metric}"
        if metric not in METERED:
            raise ValidationError(
                f"Unknown metric {metric!r}; metered: {', '.join(METERED)}.", details={"field": field}
            )
        if not 1 <= len(percents) <= MAX_THRESHOLDS:
            raise ValidationError(f"Give 1 to {MAX_THRESHOLDS} thresholds per metric.", details={"field": field})
        if any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 100 for p in percents):
            raise ValidationError("Thresholds are whole percentages from 1 to 100.", details={"field": field})
        if len(set(percents)) != len(percents):
            raise ValidationError("A threshold is given twice.", details={"field": field})
        checked[metric] = sorted(percents)
    return checked


def reached_when_added(before: Sequence[int], after: Sequence[int], *, used: int, limit: int) -> list[int]:
    """The thresholds a change from ``before`` to ``after`` adds that ``used`` of ``limit``
    already reaches (as a crossing counts them: ``p`` % of the limit at most the usage), in
    order. A change applies from the next crossing, so these are not notified this period;
    those kept from ``before`` are untouched (a crossing of theirs belongs to the old
    thresholds). An unlimited (-1) or zero limit reaches nothing."""
    if limit <= 0:
        return []
    kept = set(before)
    return sorted(p for p in set(after) - kept if p * limit <= used * 100)


def replace_thresholds(
    identity: Identity, values: Mapping[str, Sequence[int]], *, now: datetime | None = None
) -> dict[str, list[int]]:
    """Set the org's thresholds (admins): the metrics given get these, the others the
    defaults. A change applies from the next crossing: a threshold it adds that this period's
    usage already reaches is recorded as passed, in the same transaction, and is not notified
    this period; one already notified this period is never notified again (the notifications'
    unique key), however often it is removed and added back."""
    require_admin(identity)
    checked = check_thresholds(values)
    at = now if now is not None else datetime.now(UTC)
    period = month_start(at)
    org = identity.org_id
    with tenant_transaction(org, identity.user_id) as conn:
        push_repo.lock_thresholds(conn, org)
        own = push_repo.thresholds(conn, org)
        push_repo.replace_thresholds(conn, org, checked)
        push_repo.forget_suppressions_before(conn, org, period)
        for feature, metric in METERED.items():
            before = own.get(feature, list(DEFAULT_PERCENTS))
            after = checked.get(feature, list(DEFAULT_PERCENTS))
            if not set(after) - set(before):
                continue
            entitled, used = metering_repo.entitlement_and_usage(conn, org, feature, metric, period, at).result()
            limit = -1 if entitled is None else entitled
            passed = reached_when_added(before, after, used=used, limit=limit)
            if passed:
                push_repo.suppress_thresholds(
                    conn, org, feature, period=period, percents=passed, used=used, limit=limit
                )
    return {metric: checked.get(metric, list(DEFAULT_PERCENTS)) for metric in METERED}


def history(identity: Identity, *, limit: int, cursor: tuple[datetime, int] | None) -> list[push_repo.HistoryRow]:
    """The org's notifications, newest first, with each delivery's status."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return push_repo.history(conn, identity.org_id, limit=limit, cursor=cursor)


def event_delivery(row: push_repo.HistoryRow) -> tuple[str, datetime]:
    """The EventBridge channel's status and when: sent when delivered, failed once its attempts
    are used up, pending before."""
    if row.delivered_at is not None:
        return "sent", row.delivered_at
    return ("failed" if row.attempts >= EVENT_MAX_ATTEMPTS else "pending"), row.created_at
