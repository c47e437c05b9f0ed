"""Asynchronous ingestion: pending policies, their jobs, staged chunks and their vectors (sql/0019)."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from sheetbrain.db.pgvector import vector_literal
from sheetbrain.db.policies_repo import ChunkRow, corpus_apply


def insert_pending_policy(
    conn: psycopg.Connection,
    *,
    policy_id: uuid.UUID,
    org_id: str,
    title: str,
    category: str | None,
    status: Literal["awaiting_upload", "processing"],
    size_bytes: int,
    created_by: str | None,
    upload_key: str | None = None,
    upload_expires_at: datetime | None = None,
    filename: str | None = None,
    content_type: str | None = None,
) -> None:
    """A policy whose content is yet to come: its text, rules and profile are set when staged."""
    conn.execute(
        """INSERT INTO policies (id, org_id, title, category, content, format, size_bytes, content_sha256,
                                 created_by, status, upload_key, upload_expires_at, upload_filename,
                                 upload_content_type)
           VALUES (%s, %s, %s, %s, '', 'pending', %s, '', %s, %s, %s, %s, %s, %s)""",
        (
            policy_id, org_id, title, category, size_bytes, created_by, status, upload_key, upload_expires_at,
            filename, content_type,
        ),
    )  # fmt: skip


def insert_job(
    conn: psycopg.Connection,
    *,
    org_id: str,
    policy_id: uuid.UUID,
    user_id: str | None,
    source: Literal["inline", "upload"],
    size_bytes: int,
    document: bytes | None = None,
    object_key: str | None = None,
    object_version: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    lease_s: float | None = None,
    enqueued: bool = False,
) -> uuid.UUID:
    """The job of ingesting a policy (one per policy), leased for ``lease_s`` to its creator."""
    row = conn.execute(
        """INSERT INTO ingestion_jobs (org_id, policy_id, user_id, source, document, object_key, object_version,
                                       filename, content_type, size_bytes, lease_until, enqueued_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %s::float8) END,
                   CASE WHEN %s THEN now() END)
           RETURNING id""",
        (
            org_id, policy_id, user_id, source, document, object_key, object_version, filename, content_type,
            size_bytes, lease_s, lease_s, enqueued,
        ),
    ).fetchone()  # fmt: skip
    assert row is not None
    return uuid.UUID(str(row[0]))


class UploadClaim(NamedTuple):
    job_id: uuid.UUID | None  # None: the event changes nothing (unknown key, another version, expired)
    outcome: str  # "started", "same_upload", "ignored"


def job_for_upload(conn: psycopg.Connection, *, object_key: str, object_version: str, size_bytes: int) -> UploadClaim:
    """The job for an uploaded object: made (and its policy set processing) by the first event
    of a policy awaiting this key's upload; the same job for a redelivery of that event; none
    for another version of the key or a policy no longer awaiting it."""
    policy = conn.execute(
        """SELECT id, org_id, status, source_version, created_by, upload_filename, upload_content_type
           FROM policies WHERE upload_key = %s FOR UPDATE""",
        (object_key,),
    ).fetchone()
    if policy is None:
        return UploadClaim(None, "ignored")
    policy_id, org_id, status, version, created_by, filename, content_type = policy
    if status != "awaiting_upload":
        if version == object_version:
            job = conn.execute("SELECT id FROM ingestion_jobs WHERE policy_id = %s", (policy_id,)).fetchone()
            if job is not None:
                return UploadClaim(uuid.UUID(str(job[0])), "same_upload")
        return UploadClaim(None, "ignored")
    conn.execute(
        """UPDATE policies SET status = 'processing', source_version = %s, size_bytes = %s, updated_at = now()
           WHERE id = %s""",
        (object_version, size_bytes, policy_id),
    )
    job_id = insert_job(
        conn,
        org_id=org_id,
        policy_id=policy_id,
        user_id=created_by,
        source="upload",
        size_bytes=size_bytes,
        object_key=object_key,
        object_version=object_version,
        filename=filename,
        content_type=content_type,
        enqueued=True,
    )
    return UploadClaim(job_id, "started")


class Job(NamedTuple):
    id: uuid.UUID
    org_id: str
    policy_id: uuid.UUID
    user_id: str | None
    source: str
    object_key: str | None
    object_version: str | None
    filename: str | None
    content_type: str | None
    size_bytes: int
    attempts: int
    policy_status: str
    staged: bool  # its chunks are staged (extraction and chunking are done)


class Claim(NamedTuple):
    outcome: Literal["claimed", "done", "busy", "missing"]
    job: Job | None
    busy_for_s: float  # with "busy": how long the other holder's lease still runs


def claim_job(conn: psycopg.Connection, job_id: uuid.UUID, *, lease_s: float) -> Claim:
    """Lease a job for ``lease_s`` unless it is done or leased by another (an inline attempt
    or a worker still at it)."""
    row = conn.execute(
        """SELECT j.finished_at IS NOT NULL, greatest(0, extract(epoch FROM j.lease_until - now()))::float8
           FROM ingestion_jobs j WHERE j.id = %s FOR UPDATE""",
        (job_id,),
    ).fetchone()
    if row is None:
        return Claim("missing", None, 0.0)
    if row[0]:
        return Claim("done", None, 0.0)
    if row[1] and row[1] > 0:
        return Claim("busy", None, float(row[1]))
    with conn.cursor(row_factory=class_row(Job)) as cur:
        job = cur.execute(
            """UPDATE ingestion_jobs j
               SET lease_until = now() + make_interval(secs => %s::float8), attempts = attempts + 1
               FROM policies p
               WHERE j.id = %s AND p.id = j.policy_id
               RETURNING j.id, j.org_id, j.policy_id, j.user_id, j.source, j.object_key, j.object_version,
                         j.filename, j.content_type, j.size_bytes, j.attempts, p.status AS policy_status,
                         p.chunks_total IS NOT NULL AS staged""",
            (lease_s, job_id),
        ).fetchone()
    return Claim("claimed", job, 0.0) if job is not None else Claim("missing", None, 0.0)


def renew_lease(conn: psycopg.Connection, job_id: uuid.UUID, *, lease_s: float) -> None:
    conn.execute(
        "UPDATE ingestion_jobs SET lease_until = now() + make_interval(secs => %s::float8) WHERE id = %s",
        (lease_s, job_id),
    )


def release_job(conn: psycopg.Connection, job_id: uuid.UUID, *, enqueued: bool) -> None:
    """Give up the lease (for the queue's next delivery); ``enqueued`` records that a message
    for it was sent."""
    conn.execute(
        """UPDATE ingestion_jobs SET lease_until = NULL, enqueued_at = CASE WHEN %s THEN now() ELSE enqueued_at END
           WHERE id = %s""",
        (enqueued, job_id),
    )


def mark_enqueued(conn: psycopg.Connection, job_id: uuid.UUID) -> None:
    """Record that a message for the job was sent (its lease is not touched: the message's
    delivery may already hold it)."""
    conn.execute("UPDATE ingestion_jobs SET enqueued_at = now() WHERE id = %s", (job_id,))


def job_document(conn: psycopg.Connection, job_id: uuid.UUID) -> bytes | None:
    row = conn.execute("SELECT document FROM ingestion_jobs WHERE id = %s", (job_id,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def stage_document(
    conn: psycopg.Connection,
    *,
    policy_id: uuid.UUID,
    org_id: str,
    content: str,
    fmt: str,
    size_bytes: int,
    content_sha256: str,
    rules: list[dict[str, Any]],
    unmatched: list[dict[str, Any]],
    profile: dict[str, Any],
    chunks: Sequence[ChunkRow],
) -> None:
    """The extracted document and its chunks, still without vectors (the policy stays processing,
    unseen by search and by audits, which read ready policies only)."""
    conn.execute(
        """UPDATE policies SET content = %s, format = %s, size_bytes = %s, content_sha256 = %s, rules = %s,
                              unmatched = %s, profile = %s, chunks_total = %s, chunks_done = 0, updated_at = now()
           WHERE id = %s""",
        (
            content, fmt, size_bytes, content_sha256, Jsonb(rules), Jsonb(unmatched), Jsonb(profile), len(chunks),
            policy_id,
        ),
    )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ingestion_chunks (policy_id, org_id, ordinal, clause, heading_path, text, start_offset,
                                             end_offset)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [(policy_id, org_id, c.ordinal, c.clause, list(c.heading_path), c.text, c.start, c.end) for c in chunks],
        )


class PendingChunk(NamedTuple):
    ordinal: int
    heading_path: list[str]
    text: str


def pending_chunks(conn: psycopg.Connection, policy_id: uuid.UUID) -> list[PendingChunk]:
    """The staged chunks still without a vector, in order."""
    with conn.cursor(row_factory=class_row(PendingChunk)) as cur:
        return cur.execute(
            """SELECT ordinal, heading_path, text FROM ingestion_chunks
               WHERE policy_id = %s AND embedding IS NULL ORDER BY ordinal""",
            (policy_id,),
        ).fetchall()


def embedded_staged_chunks(conn: psycopg.Connection, policy_id: uuid.UUID) -> list[int]:
    """Ordinals of staged chunks that already hold a vector but are not yet searchable: left by
    a job that ran before chunks moved into search batch by batch (sql/0019's design)."""
    rows = conn.execute(
        "SELECT ordinal FROM ingestion_chunks WHERE policy_id = %s AND embedding IS NOT NULL ORDER BY ordinal",
        (policy_id,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def store_vectors(
    conn: psycopg.Connection,
    *,
    policy_id: uuid.UUID,
    model: str,
    dim: int,
    vectors: Sequence[tuple[int, Sequence[float] | None]],
) -> int:
    """Move staged chunks, with their vectors (None: the vector already staged), into
    ``policy_chunks``, where the HNSW index takes them now rather than all at once when the
    policy is made ready; search leaves out chunks of policies that are not ready. The
    policy's progress counts them. A chunk moved already (a redelivered batch) is not written
    twice. Returns how many were moved; 0 when the policy is no longer processing.

    The policy row is held FOR KEY SHARE: batches of one policy are written side by side from
    several connections, while failing, publishing or deleting it (which lock the row FOR
    UPDATE) waits for batches in flight, and a batch that starts after them writes nothing."""
    row = conn.execute("SELECT status FROM policies WHERE id = %s FOR KEY SHARE", (policy_id,)).fetchone()
    if row is None or row[0] != "processing":
        return 0
    document = [{"o": ordinal, "v": None if vector is None else vector_literal(vector)} for ordinal, vector in vectors]
    written = conn.execute(
        """WITH u AS (
               SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS u(o integer, v text)
           ), moved AS (
               DELETE FROM ingestion_chunks c USING u
               WHERE c.policy_id = %(policy)s AND c.ordinal = u.o
               RETURNING c.policy_id, c.org_id, c.ordinal, c.clause, c.heading_path, c.text, c.start_offset,
                         c.end_offset, coalesce(u.v::vector, c.embedding) AS embedding
           ), added AS (
               INSERT INTO policy_chunks (policy_id, org_id, ordinal, clause, heading_path, heading, text,
                                          start_offset, end_offset, embedding, embedding_model, embedding_dim)
               SELECT policy_id, org_id, ordinal, clause, heading_path, array_to_string(heading_path, ' > '), text,
                      start_offset, end_offset, embedding, %(model)s, %(dim)s
               FROM moved ORDER BY ordinal
               ON CONFLICT (policy_id, ordinal) DO NOTHING
               RETURNING 1
           )
           UPDATE policies SET chunks_done = chunks_done + (SELECT count(*) FROM added), updated_at = now()
           WHERE id = %(policy)s
           RETURNING (SELECT count(*) FROM added)""",
        {"rows": Jsonb(document), "policy": policy_id, "model": model, "dim": dim},
    ).fetchone()
    return int(written[0]) if written else 0


def publish(conn: psycopg.Connection, *, policy_id: uuid.UUID, org_id: str) -> int | None:
    """Make a processing policy whose chunks are all searchable ready: its chunks join the org's
    lexeme statistics and full-text postings, and search starts to return them. A small
    transaction (the chunks were indexed as their batches committed), under the org lock that
    ingestion and deletion take. Returns the policy's chunks, or None when it is gone, no longer
    processing, or still has staged chunks (nothing is changed)."""
    conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (org_id,))
    row = conn.execute(
        """SELECT status, EXISTS (SELECT FROM ingestion_chunks WHERE policy_id = %s)
           FROM policies WHERE id = %s FOR UPDATE""",
        (policy_id, policy_id),
    ).fetchone()
    if row is None or row[0] != "processing" or row[1]:
        return None
    corpus_apply(conn, org_id, policy_id, 1)
    ready = conn.execute(
        """UPDATE policies SET status = 'ready', chunks_done = coalesce(chunks_total, 0), updated_at = now()
           WHERE id = %s
           RETURNING (SELECT count(*) FROM policy_chunks WHERE policy_id = %s)""",
        (policy_id, policy_id),
    ).fetchone()
    return int(ready[0]) if ready else None


def finish_job(conn: psycopg.Connection, job_id: uuid.UUID) -> None:
    """The job is done: its document bytes go, and any later delivery finds nothing to do."""
    conn.execute(
        "UPDATE ingestion_jobs SET finished_at = now(), document = NULL, lease_until = NULL WHERE id = %s",
        (job_id,),
    )


def fail_policy(conn: psycopg.Connection, *, policy_id: uuid.UUID, code: str, message: str) -> bool:
    """Mark a policy not yet ready as failed with its reason; its chunks (staged or moved into
    search) and its job's document go. False when it is ready, failed already, or gone.
    Not pipeline-safe: reads ``rowcount``, which a pipelined transaction has only after a sync."""
    # FOR UPDATE: batches being written (store_vectors, FOR KEY SHARE) finish first, and later
    # ones find the policy failed.
    conn.execute("SELECT FROM policies WHERE id = %s FOR UPDATE", (policy_id,))
    failed = conn.execute(
        """UPDATE policies SET status = 'failed', error_code = %s, error_message = %s, updated_at = now()
           WHERE id = %s AND status IN ('awaiting_upload', 'processing')""",
        (code[:100], message[:1000], policy_id),
    ).rowcount
    conn.execute("DELETE FROM ingestion_chunks WHERE policy_id = %s", (policy_id,))
    if failed:
        # Chunks moved into search batch by batch: never searched (the policy was not ready),
        # never in the lexeme statistics (those are added when it becomes ready).
        conn.execute("DELETE FROM policy_chunks WHERE policy_id = %s", (policy_id,))
    conn.execute(
        """UPDATE ingestion_jobs SET finished_at = coalesce(finished_at, now()), document = NULL, lease_until = NULL
           WHERE policy_id = %s""",
        (policy_id,),
    )
    return failed > 0


class ExpiredUpload(NamedTuple):
    policy_id: uuid.UUID
    org_id: str
    created_by: str | None
    filename: str | None
    content_type: str | None


def expire_uploads(conn: psycopg.Connection, *, now: datetime, after_s: int, batch: int) -> list[ExpiredUpload]:
    """Policies whose upload never came (their URL expired more than ``after_s`` ago) set
    failed with ``upload_expired``, a bounded batch at a time (system transaction)."""
    with conn.cursor(row_factory=class_row(ExpiredUpload)) as cur:
        return cur.execute(
            """UPDATE policies p
               SET status = 'failed', error_code = 'upload_expired', updated_at = now(),
                   error_message = 'The upload did not arrive before its URL expired; request a new upload.'
               WHERE p.id IN (
                   SELECT id FROM policies
                   WHERE status = 'awaiting_upload'
                     AND upload_expires_at < %s - make_interval(secs => %s::float8)
                   ORDER BY upload_expires_at LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING p.id AS policy_id, p.org_id, p.created_by, p.upload_filename AS filename,
                         p.upload_content_type AS content_type""",
            (now, after_s, batch),
        ).fetchall()


def stalled_jobs(conn: psycopg.Connection, *, batch: int) -> list[uuid.UUID]:
    """Jobs never sent to the queue whose inline attempt is over (it died, or sending failed):
    marked sent and returned, for the caller to send (system transaction)."""
    rows = conn.execute(
        """UPDATE ingestion_jobs SET enqueued_at = now()
           WHERE id IN (
               SELECT id FROM ingestion_jobs
               WHERE finished_at IS NULL AND enqueued_at IS NULL
                 AND (lease_until IS NULL OR lease_until < now() - interval '1 minute')
               ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)
           RETURNING id""",
        (batch,),
    ).fetchall()
    return [uuid.UUID(str(r[0])) for r in rows]


def policy_of_job(conn: psycopg.Connection, job_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    row = conn.execute("SELECT policy_id, org_id FROM ingestion_jobs WHERE id = %s", (job_id,)).fetchone()
    return (uuid.UUID(str(row[0])), str(row[1])) if row else None


def policy_of_upload(conn: psycopg.Connection, object_key: str) -> tuple[uuid.UUID, str] | None:
    row = conn.execute("SELECT id, org_id FROM policies WHERE upload_key = %s", (object_key,)).fetchone()
    return (uuid.UUID(str(row[0])), str(row[1])) if row else None
