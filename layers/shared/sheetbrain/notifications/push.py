"""Web push delivery of threshold notifications, from the deliveries outbox.

Each notification recorded is fanned out to one delivery per push subscription of its org, in
the statement that records it (``notifications_repo.insert_crossings``); the unique
(notification, subscription) pair and the notification's own unique key make one message per
threshold, period and browser. The alerts task sends them like the EventBridge outbox: rows are
leased in one short transaction (``FOR UPDATE SKIP LOCKED``, so two overlapping runs never take
the same row), sent with no transaction open, and their answers recorded in another; a retry
waits out the shared backoff. The push service's answer decides (``webpush.verdict``): 2xx sent,
404/410 gone (the subscription is deleted), 429/5xx and network errors retried, other answers
and refused endpoints failed. Delivery is at least once: a sender that dies after the POST and
before recording it leaves the row to be sent again once its lease expires.
"""

from __future__ import annotations

import http.client
import time
import uuid

from sheetbrain.config import get_settings
from sheetbrain.db import push_repo, system_transaction
from sheetbrain.errors import ConfigurationError
from sheetbrain.notifications import endpoints, webpush
from sheetbrain.observability import logger, metrics

MAX_ATTEMPTS = 10  # with notification_retry_at's backoff, about 14 hours of trying
# A sender's lease on each row it claims: the longest one POST may take (connect and read
# timeouts, TLS, the encryption) plus margin, times the rows it sends one after another.
LEASE_PER_MESSAGE_S = 15


def deliver_push_pending(
    *, batch: int = 20, deadline: float | None = None, resolver: endpoints.Resolver | None = None
) -> dict[str, int]:
    """Send up to ``batch`` pending web push deliveries; stop starting new ones once
    ``time.monotonic()`` passes ``deadline`` (those go back to the outbox at once). Returns
    ``{"sent", "gone", "retry", "failed", "released"}``."""
    counts = {"sent": 0, "gone": 0, "retry": 0, "failed": 0, "released": 0}
    with system_transaction() as conn:
        rows = push_repo.claim_deliveries(conn, batch=batch, lease_s=LEASE_PER_MESSAGE_S * batch)
    if not rows:
        return counts
    settings = get_settings()
    try:
        private_key, subject = settings.require_vapid()
    except ConfigurationError:
        with system_transaction() as conn:  # loud, but the rows stay ready for a fixed configuration
            push_repo.release(conn, [row.id for row in rows])
        raise
    allow_list = endpoints.allowed_hosts(settings.webpush_allowed_hosts)
    results: list[push_repo.DeliveryResult] = []
    gone: list[uuid.UUID] = []
    unsent: list[int] = []
    for row in rows:
        if deadline is not None and time.monotonic() > deadline:
            unsent.append(row.id)
            continue
        result = _send(
            row,
            private_key=private_key,
            subject=subject,
            ttl_s=settings.webpush_ttl_s,
            allow_list=allow_list,
            allow_http=settings.webpush_allow_http,
            resolver=resolver,
        )
        results.append(result)
        counts[result.status] += 1
        if result.status == "gone":
            gone.append(row.subscription_id)
    with system_transaction() as conn:
        push_repo.record_results(conn, results, max_attempts=MAX_ATTEMPTS, gone=gone)
        push_repo.release(conn, unsent)
    counts["released"] = len(unsent)
    if counts["retry"] or counts["failed"]:
        logger.warning("web push not delivered", retry=counts["retry"], failed=counts["failed"], sent=counts["sent"])
    for name in ("sent", "gone", "retry", "failed"):
        if counts[name]:
            metrics.add_metric(name=f"WebPush.{name.capitalize()}", unit="Count", value=counts[name])
    return counts


def _send(
    row: push_repo.PushDelivery,
    *,
    private_key: str,
    subject: str,
    ttl_s: int,
    allow_list: tuple[str, ...],
    allow_http: bool,
    resolver: endpoints.Resolver | None,
) -> push_repo.DeliveryResult:
    """One message: endpoint checked (URL and addresses), encrypted, signed, POSTed."""
    try:
        target = endpoints.parse_endpoint(row.endpoint, allow_list=allow_list, allow_http=allow_http)
        address = endpoints.resolve(target, resolver) if resolver else endpoints.resolve(target)
    except endpoints.EndpointRefusedError as exc:
        # The allow-list may have changed since it was subscribed; a name that resolves to no
        # public address is refused the same way (never retried: it is ours to fix or theirs).
        return push_repo.DeliveryResult(row.id, "failed", None, exc.message)
    payload = webpush.usage_payload(
        kind=row.kind,
        org_id=row.org_id,
        metric=row.feature,
        threshold=row.threshold,
        used=row.used,
        limit=row.lim,
        period=row.period.isoformat(),
    )
    try:
        body = webpush.encrypt(payload, p256dh=row.p256dh, auth=row.auth)
    except (webpush.PushPayloadTooLargeError, ValueError) as exc:
        return push_repo.DeliveryResult(row.id, "failed", None, f"not encrypted: {exc}")
    headers = webpush.request_headers(
        authorization=webpush.vapid_authorization(target, private_key=private_key, subject=subject),
        ttl_s=ttl_s,
        threshold=row.threshold,
        length=len(body),
    )
    try:
        answer = webpush.post(target, address, body, headers)
    except (OSError, http.client.HTTPException) as exc:
        return push_repo.DeliveryResult(row.id, "retry", None, f"{type(exc).__name__}: {exc}")
    verdict = webpush.verdict(answer.status)
    return push_repo.DeliveryResult(row.id, verdict, answer.status, None if verdict == "sent" else answer.reason)
