"""The steps of ingesting one policy, shared by the API's inline attempt and the worker.

A policy is staged (extracted, chunked, its clauses mapped, its chunks written without vectors),
embedded batch by batch, each batch moved into the searchable table as it commits (indexed then,
while the next batch embeds, but not searched: search reads ready policies only) with the
policy's progress, so whoever takes the job next resumes from the last batch; then published: a
small transaction makes it ready. Identical chunk texts are embedded once per document.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
    stage: float = 0.0  # writing the document and its chunks without vectors
    embed: float = 0.0
    # Writing embedded chunks into search (the HNSW index takes each vector): the writers' time,
    # summed over connections and spent while the next batch embeds, so it may exceed the wall
    # time; write_wait is what the embedding loop waited for them.
    write: float = 0.0
    write_wait: float = 0.0
    publish: float = 0.0  # making the policy ready
    batches: int = 0  # write transactions

    def as_ms(self) -> dict[str, int]:
        return {
            "extract_ms": int(self.extract * 1000),
            "chunk_ms": int(self.chunk * 1000),
            "stage_ms": int(self.stage * 1000),
            "embed_ms": int(self.embed * 1000),
            "write_ms": int(self.write * 1000),
            "write_wait_ms": int(self.write_wait * 1000),
            "publish_ms": int(self.publish * 1000),
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


# Chunks per write transaction: each inserts its vectors into the HNSW index (~10-30 ms a
# 1024-dimension vector here), so a write stays well inside the 15 s statement limit.
WRITE_ROWS = 64

VectorRows = list[tuple[int, Sequence[float] | None]]


class _Writers:
    """Writes batches on ``count`` connections while the caller embeds the next ones (``count``
    0: each write runs in the caller, before it goes on). At most two writes per connection
    wait, so the backlog left at a deadline, or behind a failure, is seconds of work. ``drain``
    waits for every write and raises the first failure: what committed stays."""

    def __init__(self, write: Callable[[VectorRows], None], count: int, timings: Timings) -> None:
        self._write, self._count, self._timings = write, count, timings
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(count, "ingest-write") if count else None
        self._pending: deque[Future[float]] = deque()

    def _timed(self, rows: VectorRows) -> float:
        started = time.monotonic()
        self._write(rows)
        return time.monotonic() - started

    def submit(self, rows: VectorRows) -> None:
        if self._pool is None:
            self._timings.write += self._timed(rows)
            self._timings.batches += 1
            return
        while len(self._pending) >= 2 * self._count:
            self._collect(self._pending.popleft())
        self._pending.append(self._pool.submit(self._timed, rows))

    def _collect(self, future: Future[float]) -> None:
        started = time.monotonic()
        try:
            self._timings.write += future.result()
            self._timings.batches += 1
        finally:
            self._timings.write_wait += time.monotonic() - started

    def drain(self) -> None:
        failure: BaseException | None = None
        while self._pending:
            try:
                self._collect(self._pending.popleft())
            except BaseException as exc:  # the others still finish (and commit) before it is raised
                failure = failure or exc
        if self._pool is not None:
            self._pool.shutdown()
        if failure is not None:
            raise failure


def embed_staged(
    transaction: Transaction,
    *,
    policy_id: uuid.UUID,
    model: Embedder,
    batch: int,
    timings: Timings,
    deadline: float | None = None,
    after_batch: Callable[[psycopg.Connection], None] | None = None,
    writers: int = 0,
) -> bool:
    """Embed the policy's staged chunks still without a vector, ``batch`` distinct texts at a
    time, and move them into search (``policy_chunks``, which search reads for ready policies
    only) in transactions of up to ``WRITE_ROWS`` chunks with the progress (``after_batch`` runs
    in each: the worker renews its lease there). With ``writers`` > 0 those transactions run on
    that many connections while the next batch is embedded. False when ``deadline``
    (``time.monotonic()``) would pass before the next batch is done, judged by the last batch's
    time; True when all are embedded and written."""
    from sheetbrain.policies.chunking import embedding_input

    with transaction() as conn:
        pending = ingestion_repo.pending_chunks(conn, policy_id)
        left_embedded = ingestion_repo.embedded_staged_chunks(conn, policy_id)
    groups: dict[str, list[int]] = {}
    for chunk in pending:
        groups.setdefault(embedding_input(" > ".join(chunk.heading_path), chunk.text), []).append(chunk.ordinal)

    def write(rows: VectorRows) -> None:
        with transaction() as conn:
            ingestion_repo.store_vectors(
                conn, policy_id=policy_id, model=model.model, dim=model.dimension, vectors=rows
            )
            if after_batch is not None:
                after_batch(conn)

    out = _Writers(write, writers, timings)
    try:
        for start in range(0, len(left_embedded), WRITE_ROWS):
            out.submit([(ordinal, None) for ordinal in left_embedded[start : start + WRITE_ROWS]])
        last = 0.0
        for part in _batches(list(groups.items()), batch):
            started = time.monotonic()
            if deadline is not None and started + last > deadline:
                return False
            vectors = model.embed([text for text, _ in part])
            timings.embed += time.monotonic() - started
            rows: VectorRows = [
                (ordinal, vector) for (_, ordinals), vector in zip(part, vectors, strict=True) for ordinal in ordinals
            ]
            for start in range(0, len(rows), WRITE_ROWS):
                out.submit(rows[start : start + WRITE_ROWS])
            last = time.monotonic() - started
    finally:
        out.drain()
    return True


def publish(
    transaction: Transaction, *, policy_id: uuid.UUID, org_id: str, job_id: uuid.UUID, timings: Timings
) -> int | None:
    """Make the policy ready (its chunks are searchable already) and finish its job, in one
    transaction; None when it was no longer processing (deleted, or done by another delivery)."""
    started = time.monotonic()
    with transaction() as conn:
        moved = ingestion_repo.publish(conn, policy_id=policy_id, org_id=org_id)
        ingestion_repo.finish_job(conn, job_id)
    timings.publish += time.monotonic() - started
    return moved
