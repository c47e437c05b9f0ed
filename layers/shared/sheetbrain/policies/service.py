"""Policy use cases: ingest (extract → chunk → embed → store), list/get/delete, retrieval."""

import functools
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from sheetbrain.config import get_settings
from sheetbrain.db import ingestion_repo, metering_repo, policies_repo, tenant_transaction
from sheetbrain.errors import NotFoundError, PayloadTooLargeError, QuotaExceededError, SheetBrainError
from sheetbrain.observability import logger, metrics
from sheetbrain.policies import work_queue
from sheetbrain.policies.embedding import Embedder, get_embedder
from sheetbrain.tenancy.identity import Identity, require_admin

if TYPE_CHECKING:
    import psycopg

    # The audit engine is the audit function's; the ingest function only needs its profile type.
    from sheetbrain.engine import PolicyProfile


@functools.cache
def embedder() -> Embedder:
    """The configured embedder, built once per container."""
    return get_embedder(get_settings().embedder)


def reset_embedder() -> None:
    """Forget the embedder and its client (a SnapStart hook; tests)."""
    embedder.cache_clear()


@dataclass
class _Attempt:
    identity: Identity
    size_bytes: int
    filename: str | None
    content_type: str | None
    started: float


@contextmanager
def ingestion_attempt(
    identity: Identity, *, size_bytes: int, filename: str | None, content_type: str | None
) -> Iterator[_Attempt]:
    """Log every ingestion attempt, failed ones included, in a transaction of its own."""
    attempt = _Attempt(identity, size_bytes, filename, content_type, time.perf_counter())
    try:
        yield attempt
    except SheetBrainError as exc:
        _log(attempt, None, 0, 0, error=exc)
        raise
    except Exception:
        # A bug or a driver error: a failed attempt all the same, logged without its internals
        # (the resolver logs the trace and answers 500).
        _log(attempt, None, 0, 0, error=SheetBrainError("An unexpected error occurred."))
        raise


def _log(
    attempt: _Attempt, policy_id: uuid.UUID | None, chunks: int, vectors: int, error: SheetBrainError | None
) -> int:
    duration_ms = int((time.perf_counter() - attempt.started) * 1000)
    try:
        with tenant_transaction(attempt.identity.org_id, attempt.identity.user_id) as conn:
            policies_repo.log_ingestion(
                conn,
                org_id=attempt.identity.org_id,
                user_id=attempt.identity.user_id,
                policy_id=policy_id,
                filename=attempt.filename,
                content_type=attempt.content_type,
                size_bytes=attempt.size_bytes,
                chunks=chunks,
                vectors=vectors,
                duration_ms=duration_ms,
                success=error is None,
                error_code=error.code if error else None,
                error_message=error.message[:1000] if error else None,
            )
    except Exception:
        # The attempt's own outcome matters more than its log line: never mask it.
        logger.exception("ingestion log not written")
    return duration_ms


class InlineOutcome(NamedTuple):
    """What POST /api/ingest did within its time: ``ready`` (the policy is stored and searchable)
    or ``processing`` (the rest is the worker's; its status says how far it got)."""

    status: str
    policy_id: uuid.UUID
    chunks: int
    vectors_upserted: int
    duration_ms: int


# Distinct texts per committed batch inline: the deadline is checked between batches, and a
# batch of the local model's is about a second.
INLINE_BATCH = 8
# How long an inline attempt holds its job: past the API's 30 s, a job whose attempt died is
# sent to the queue by the cleanup task.
INLINE_LEASE_S = 30.0


def ingest(attempt: _Attempt, *, title: str, category: str | None, data: bytes, filename: str | None) -> InlineOutcome:
    """Store a policy document: within the API's budget (``INGEST_INLINE_BUDGET_S``) extracted,
    chunked, embedded and made searchable; or, when that does not fit, handed to the worker
    through the queue with whatever was done (the outcome says ``processing``).

    A document refused on its content (corrupt, empty, over a size or ratio budget) is refused
    here, with no policy; one too slow to extract in the API's time, or larger than
    ``INGEST_INLINE_MAX_BYTES``, goes to the worker, whose extraction may take longer."""
    from sheetbrain.policies import pipeline
    from sheetbrain.policies.extract import DocumentTooLargeError, ExtractionBudget

    identity = attempt.identity
    require_admin(identity)
    settings = get_settings()
    if len(data) > settings.max_policy_bytes:
        raise PayloadTooLargeError(
            f"The document is {len(data)} bytes; the limit is {settings.max_policy_bytes}.",
            details={"limit_bytes": settings.max_policy_bytes, "size_bytes": len(data)},
        )
    # A full plan is refused before the dear work (extract, chunk, embed); the locked count in
    # the write transaction below stays the authority.
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        _refuse_a_full_plan(conn, identity.org_id, policies_repo.policy_count(conn, identity.org_id), datetime.now(UTC))
    deadline = time.monotonic() + settings.ingest_inline_budget_s - (time.perf_counter() - attempt.started)
    policy_id = uuid.uuid4()
    timings = pipeline.Timings()
    document: pipeline.StagedDocument | None = None
    if len(data) <= settings.ingest_inline_max_bytes:
        budget = ExtractionBudget(seconds=max(0.05, min(ExtractionBudget().seconds, deadline - time.monotonic())))
        try:
            document = pipeline.prepare(data, filename, attempt.content_type, budget, timings)
        except DocumentTooLargeError as exc:
            if exc.details.get("budget") != "seconds":
                raise
            # Too slow for the API's time, not too large: the worker's time budget is longer.

    def scoped() -> AbstractContextManager["psycopg.Connection"]:
        return tenant_transaction(identity.org_id, identity.user_id)

    with scoped() as conn:
        existing = policies_repo.lock_org_policy_count(conn, identity.org_id)
        _refuse_a_full_plan(conn, identity.org_id, existing, datetime.now(UTC))
        ingestion_repo.insert_pending_policy(
            conn,
            policy_id=policy_id,
            org_id=identity.org_id,
            title=title,
            category=category,
            status="processing",
            size_bytes=len(data),
            created_by=identity.user_id,
            filename=filename,
            content_type=attempt.content_type,
        )
        if document is not None:
            pipeline.stage(conn, policy_id=policy_id, org_id=identity.org_id, document=document)
        job_id = ingestion_repo.insert_job(
            conn,
            org_id=identity.org_id,
            policy_id=policy_id,
            user_id=identity.user_id,
            source="inline",
            size_bytes=len(data),
            document=None if document is not None else data,
            filename=filename,
            content_type=attempt.content_type,
            lease_s=INLINE_LEASE_S,
        )
    try:
        model = embedder()
        done = document is not None and pipeline.embed_staged(
            scoped, policy_id=policy_id, model=model, batch=INLINE_BATCH, timings=timings, deadline=deadline
        )
        if done:
            moved = pipeline.publish(
                scoped, policy_id=policy_id, org_id=identity.org_id, job_id=job_id, timings=timings
            )
            chunks = moved or 0
            duration_ms = _log(attempt, policy_id, chunks, chunks, error=None)
            metrics.add_metric(name="PolicyIngested", unit="Count", value=1)
            return InlineOutcome("ready", policy_id, chunks, chunks, duration_ms)
    except BaseException:
        # A failure of this attempt (a bug, the embedder down) leaves no half-made policy: the
        # caller logs it and answers as before.
        try:
            with scoped() as conn:
                policies_repo.delete_policy(conn, identity.org_id, policy_id)
        except Exception:
            logger.exception("a failed inline ingestion's policy was not removed", policy_id=str(policy_id))
        raise
    try:
        with scoped() as conn:
            work_queue.send_job(conn, job_id)
            ingestion_repo.release_job(conn, job_id, enqueued=True)
    except Exception:
        # The job is stored: once its lease is over, the cleanup task sends it.
        logger.exception("ingestion job not queued; the cleanup task will send it", policy_id=str(policy_id))
    logger.info("ingestion handed to the worker", policy_id=str(policy_id), timings=timings.as_ms())
    metrics.add_metric(name="PolicyIngestDeferred", unit="Count", value=1)
    duration_ms = int((time.perf_counter() - attempt.started) * 1000)
    return InlineOutcome("processing", policy_id, 0, 0, duration_ms)


class UploadStarted(NamedTuple):
    policy_id: uuid.UUID
    upload: dict[str, object]  # url, fields, expires_at


def start_upload(
    identity: Identity, *, filename: str, content_type: str, size: int, title: str, category: str | None
) -> UploadStarted:
    """A policy awaiting its file, and the presigned POST that may upload it (admins only): its
    place in the plan is held from now (refused when the plan is full); the cleanup task fails
    it if the file never arrives."""
    from sheetbrain.policies import uploads

    require_admin(identity)
    settings = get_settings()
    if size > settings.max_upload_bytes:
        raise PayloadTooLargeError(
            f"The file is {size} bytes; uploads take at most {settings.max_upload_bytes}.",
            details={"field": "body.size", "limit_bytes": settings.max_upload_bytes, "size_bytes": size},
        )
    policy_id = uuid.uuid4()
    key = uploads.upload_key(identity.org_id, policy_id)
    now = datetime.now(UTC)
    upload = uploads.presign(key, size=size, content_type=content_type, now=now)
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        existing = policies_repo.lock_org_policy_count(conn, identity.org_id)
        _refuse_a_full_plan(conn, identity.org_id, existing, now)
        ingestion_repo.insert_pending_policy(
            conn,
            policy_id=policy_id,
            org_id=identity.org_id,
            title=title,
            category=category,
            status="awaiting_upload",
            size_bytes=size,
            created_by=identity.user_id,
            upload_key=key,
            upload_expires_at=upload["expires_at"],
            filename=filename,
            content_type=content_type,
        )
    return UploadStarted(policy_id, upload)


def _refuse_a_full_plan(conn: "psycopg.Connection", org_id: str, existing: int, now: datetime) -> None:
    """429 ``quota_exceeded`` when the plan's count of policies is reached. The count is no
    monthly quota: it frees up only when a policy is deleted or the plan upgraded, so there is
    no reset time (``resets_at`` null). The contract's Retry-After only paces a client that
    retries (a minute, the rate-limit window); the message says what lifts the limit."""
    limit = metering_repo.entitlement(conn, org_id, "policies", now).result()
    if limit is not None and 0 <= limit <= existing:
        raise QuotaExceededError(
            f"The plan allows {limit} policies; delete one or upgrade.",
            retry_after=60,
            details={
                "plan": metering_repo.effective_plan(conn, org_id, now),
                "feature": "policies",
                "limit": limit,
                "used": existing,
                "resets_at": None,
            },
        )


def list_policies(
    identity: Identity, *, limit: int, cursor: tuple[datetime, uuid.UUID] | None
) -> list[policies_repo.PolicySummary]:
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return policies_repo.list_policies(conn, identity.org_id, limit=limit, before=cursor)


def get_policy(identity: Identity, policy_id: uuid.UUID) -> policies_repo.PolicyDetail:
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        policy = policies_repo.get_policy(conn, identity.org_id, policy_id)
    if policy is None:
        raise NotFoundError("Policy not found.", details={"policy_id": str(policy_id)})
    return policy


def delete_policy(identity: Identity, policy_id: uuid.UUID) -> None:
    """Delete a policy with its chunks and vectors (admins only); 404 for an unknown id."""
    require_admin(identity)
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        if not policies_repo.delete_policy(conn, identity.org_id, policy_id):
            raise NotFoundError("Policy not found.", details={"policy_id": str(policy_id)})


def profile_of(stored_profiles: Sequence[dict[str, object]]) -> "PolicyProfile":
    """One audit profile from the profiles stored with policies (strictest wins)."""
    from sheetbrain.engine import PolicyProfile
    from sheetbrain.policies.profiles import merge_profiles

    return merge_profiles(PolicyProfile.from_dict(dict(p)) for p in stored_profiles)


_QUERY_CACHE: dict[str, list[float]] = {}
_QUERY_CACHE_MAX = 4096


def _query_vectors(queries: tuple[str, ...]) -> list[list[float]]:
    """Query embeddings, remembered per container: the audit path asks the same few check
    descriptions again and again, and embedding is the dearest step of retrieval."""
    missing = [q for q in dict.fromkeys(queries) if q not in _QUERY_CACHE]
    if missing:
        if len(_QUERY_CACHE) + len(missing) > _QUERY_CACHE_MAX:
            _QUERY_CACHE.clear()
        _QUERY_CACHE.update(zip(missing, embedder().embed(missing), strict=True))
    return [_QUERY_CACHE[q] for q in queries]


def retrieve(
    identity: Identity,
    queries: Sequence[str],
    *,
    k: int = 3,
    pool: int = 40,
    mode: str = "hybrid",
    policy_ids: Sequence[uuid.UUID] | None = None,
) -> list[list[policies_repo.SearchHit]]:
    """The best clauses for each query, hybrid-ranked within the caller's org (within the given
    policies only, when ``policy_ids`` is set)."""
    if not queries:
        return []
    model = embedder()
    vectors: list[list[float] | None] = [None] * len(queries)
    if mode != "text":
        vectors = list(_query_vectors(tuple(queries)))
    floor = get_settings().retrieval_min_similarity
    # One round trip for all the searches: each is sent before any result is read.
    with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:
        policies_repo.prepare_search(conn, pool=pool)
        sent = [
            policies_repo.send_hybrid_search(
                conn,
                org_id=identity.org_id,
                query=query,
                vector=vector,
                model=model.model,
                dim=model.dimension,
                k=k,
                pool=pool,
                min_similarity=floor,
                mode=mode,
                policy_ids=policy_ids,
            )
            for query, vector in zip(queries, vectors, strict=True)
        ]
        return [cursor.fetchall() for cursor in sent]
