"""Policy use cases: ingest (extract → chunk → embed → store), list/get/delete, retrieval."""

import functools
import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from sheetbrain.config import get_settings
from sheetbrain.db import metering_repo, policies_repo, tenant_transaction
from sheetbrain.errors import NotFoundError, PayloadTooLargeError, QuotaExceededError, SheetBrainError
from sheetbrain.observability import logger, metrics
from sheetbrain.policies.embedding import Embedder, get_embedder
from sheetbrain.tenancy.identity import Identity, require_admin

if TYPE_CHECKING:
    import psycopg

    # The audit engine is the audit function's; the ingest function only needs its profile type.
    from sheetbrain.audit import PolicyProfile


@functools.cache
def embedder() -> Embedder:
    """The configured embedder, built once per container."""
    return get_embedder(get_settings().embedder)


def reset_embedder() -> None:
    """Forget the embedder and its client (a SnapStart hook; tests)."""
    embedder.cache_clear()


class IngestResult(NamedTuple):
    policy_id: uuid.UUID
    chunks: int
    vectors_upserted: int
    duration_ms: int


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


def ingest(attempt: _Attempt, *, title: str, category: str | None, data: bytes, filename: str | None) -> IngestResult:
    """Store a policy document: extracted, chunked, embedded and indexed, in one transaction."""
    # Extraction, chunking and clause mapping are the ingest function's alone: imported here so
    # the audit function, which shares this module for retrieval, does not load them.
    from sheetbrain.policies.chunking import chunk_text
    from sheetbrain.policies.clause_map import PolicyClause, map_clauses
    from sheetbrain.policies.extract import extract_text
    from sheetbrain.policies.profiles import profile_from_rules

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
    document = extract_text(data, filename, attempt.content_type)
    chunks = chunk_text(document.text, target_size=settings.policy_chunk_chars, overlap=settings.policy_chunk_overlap)
    mapping = map_clauses(PolicyClause(c.clause, c.text) for c in chunks)
    profile = profile_from_rules(mapping.rules)
    model = embedder()
    vectors = model.embed([c.context_text() for c in chunks])
    rows = [
        policies_repo.ChunkRow(c.ordinal, c.clause, c.heading_path, c.text, c.start, c.end, v)
        for c, v in zip(chunks, vectors, strict=True)
    ]
    stored = mapping.to_dict()
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        existing = policies_repo.lock_org_policy_count(conn, identity.org_id)
        _refuse_a_full_plan(conn, identity.org_id, existing, datetime.now(UTC))
        policy_id = policies_repo.insert_policy(
            conn,
            org_id=identity.org_id,
            title=title,
            category=category,
            content=document.text,
            fmt=document.format,
            size_bytes=len(data),
            content_sha256=hashlib.sha256(data).hexdigest(),
            rules=stored["rules"],
            unmatched=stored["unmatched"],
            profile=profile.to_dict(),
            created_by=identity.user_id,
        )
        upserted = policies_repo.insert_chunks(
            conn, policy_id=policy_id, org_id=identity.org_id, chunks=rows, model=model.model, dim=model.dimension
        )
    duration_ms = _log(attempt, policy_id, len(rows), upserted, error=None)
    metrics.add_metric(name="PolicyIngested", unit="Count", value=1)
    return IngestResult(policy_id=policy_id, chunks=len(rows), vectors_upserted=upserted, duration_ms=duration_ms)


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


def org_profile(identity: Identity) -> "PolicyProfile":
    """The audit profile of all the org's policies merged."""
    with tenant_transaction(identity.org_id, identity.user_id) as conn:
        return profile_of(policies_repo.org_profiles(conn, identity.org_id).result())


def profile_of(stored_profiles: Sequence[dict[str, object]]) -> "PolicyProfile":
    """One audit profile from the profiles stored with policies (strictest wins)."""
    from sheetbrain.audit import PolicyProfile
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
