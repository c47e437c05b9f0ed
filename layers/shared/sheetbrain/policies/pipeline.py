"""The steps of ingesting one policy, shared by the API's inline attempt and the worker.

A policy is staged (extracted, chunked, its clauses mapped, its chunks written without vectors),
embedded batch by batch (each batch committed with the policy's progress, so whoever takes the
job next resumes from the last batch), then published: its chunks move into search and it is
ready, in one transaction. Identical chunk texts are embedded once per document.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sheetbrain.config import get_settings
from sheetbrain.db import ingestion_repo, policies_repo
from sheetbrain.policies.embedding import Embedder

if TYPE_CHECKING:
    import psycopg

    from sheetbrain.policies.extract import ExtractionBudget

Transaction = Callable[[], AbstractContextManager["psycopg.Connection"]]


@dataclass
class Timings:
    """Where the time of an ingestion went (seconds), for logs and the bench."""

    extract: float = 0.0
    chunk: float = 0.0
    embed: float = 0.0
    write: float = 0.0
    publish: float = 0.0  # of write: moving the chunks into search (indexing them)
    batches: int = 0

    def as_ms(self) -> dict[str, int]:
        return {
            "extract_ms": int(self.extract * 1000),
            "chunk_ms": int(self.chunk * 1000),
            "embed_ms": int(self.embed * 1000),
            "write_ms": int(self.write * 1000),
        }


@dataclass
class StagedDocument:
    """A document extracted, chunked and mapped, ready to be staged."""

    content: str
    fmt: str
    size_bytes: int
    sha256: str
    rules: list[dict[str, object]]
    unmatched: list[dict[str, object]]
    profile: dict[str, object]
    chunks: list[policies_repo.ChunkRow]


def prepare(
    data: bytes, filename: str | None, content_type: str | None, budget: ExtractionBudget, timings: Timings
) -> StagedDocument:
    """Extract, chunk and map a document (no database): raises the extraction's refusals."""
    from sheetbrain.policies.chunking import chunk_text
    from sheetbrain.policies.clause_map import PolicyClause, map_clauses
    from sheetbrain.policies.extract import extract_text
    from sheetbrain.policies.profiles import profile_from_rules

    settings = get_settings()
    started = time.perf_counter()
    document = extract_text(data, filename, content_type, budget)
    timings.extract += time.perf_counter() - started
    started = time.perf_counter()
    chunks = chunk_text(document.text, target_size=settings.policy_chunk_chars, overlap=settings.policy_chunk_overlap)
    mapping = map_clauses(PolicyClause(c.clause, c.text) for c in chunks)
    stored = mapping.to_dict()
    staged = StagedDocument(
        content=document.text,
        fmt=document.format,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        rules=stored["rules"],
        unmatched=stored["unmatched"],
        profile=profile_from_rules(mapping.rules).to_dict(),
        chunks=[
            policies_repo.ChunkRow(c.ordinal, c.clause, c.heading_path, c.text, c.start, c.end, None) for c in chunks
        ],
    )
    timings.chunk += time.perf_counter() - started
    return staged


def stage(conn: psycopg.Connection, *, policy_id: uuid.UUID, org_id: str, document: StagedDocument) -> None:
    """Write a prepared document and its chunks (no vectors yet) in the caller's transaction."""
    ingestion_repo.stage_document(
        conn,
        policy_id=policy_id,
        org_id=org_id,
        content=document.content,
        fmt=document.fmt,
        size_bytes=document.size_bytes,
        content_sha256=document.sha256,
        rules=document.rules,
        unmatched=document.unmatched,
        profile=document.profile,
        chunks=document.chunks,
    )


def _batches(items: list[tuple[str, list[int]]], size: int) -> Iterator[list[tuple[str, list[int]]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def embed_staged(
    transaction: Transaction,
    *,
    policy_id: uuid.UUID,
    model: Embedder,
    batch: int,
    timings: Timings,
    deadline: float | None = None,
    after_batch: Callable[[psycopg.Connection], None] | None = None,
) -> bool:
    """Embed the policy's staged chunks still without a vector, ``batch`` distinct texts at a
    time, each batch committed with the progress (``after_batch`` runs in that transaction: the
    worker renews its lease there). False when ``deadline`` (``time.monotonic()``) would pass
    before the next batch is done, judged by the last batch's time; True when all are embedded."""
    from sheetbrain.policies.chunking import embedding_input

    with transaction() as conn:
        pending = ingestion_repo.pending_chunks(conn, policy_id)
    groups: dict[str, list[int]] = {}
    for chunk in pending:
        groups.setdefault(embedding_input(" > ".join(chunk.heading_path), chunk.text), []).append(chunk.ordinal)
    last = 0.0
    for part in _batches(list(groups.items()), batch):
        started = time.monotonic()
        if deadline is not None and started + last > deadline:
            return False
        vectors = model.embed([text for text, _ in part])
        embedded = time.monotonic()
        timings.embed += embedded - started
        rows = [(ordinal, vector) for (_, ordinals), vector in zip(part, vectors, strict=True) for ordinal in ordinals]
        with transaction() as conn:
            ingestion_repo.store_vectors(conn, policy_id=policy_id, vectors=rows)
            if after_batch is not None:
                after_batch(conn)
        timings.write += time.monotonic() - embedded
        timings.batches += 1
        last = time.monotonic() - started
    return True


def publish(
    transaction: Transaction, *, policy_id: uuid.UUID, org_id: str, job_id: uuid.UUID, model: Embedder, timings: Timings
) -> int | None:
    """Make the policy ready with its chunks searchable and finish its job, in one transaction;
    None when it was no longer processing (deleted, or done by another delivery)."""
    started = time.monotonic()
    with transaction() as conn:
        moved = ingestion_repo.publish(conn, policy_id=policy_id, org_id=org_id, model=model.model, dim=model.dimension)
        ingestion_repo.finish_job(conn, job_id)
    timings.write += time.monotonic() - started
    timings.publish += time.monotonic() - started
    return moved
