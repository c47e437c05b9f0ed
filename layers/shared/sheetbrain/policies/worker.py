"""The ingestion worker: one queue message at a time, at least once, applied exactly once.

A message is a job (``{"job_id"}``: inline overflow, a continuation) or an S3 event of an
uploaded object. Each is idempotent: a job is leased before any work and done once finished, so
a redelivery finds nothing left to do; an upload event makes the policy's one job (keyed by the
policy, tied to the object's key and version), so a second event, or another version of the
key, changes nothing. Progress commits batch by batch, each batch's chunks written into search
(not yet searched) on ``INGEST_WRITE_CONNECTIONS`` connections while the next batch embeds: a
worker that dies is resumed by the message's next delivery. A message from the dead-letter
queue (delivered too often without success) marks its policy failed.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any
from urllib.parse import unquote_plus

from sheetbrain import aws, untrusted_json
from sheetbrain.config import get_settings
from sheetbrain.db import ingestion_repo, policies_repo, system_transaction
from sheetbrain.errors import DependencyUnavailableError, SheetBrainError
from sheetbrain.observability import logger, metrics
from sheetbrain.policies import pipeline, uploads, work_queue
from sheetbrain.policies.embedding import BEDROCK_TITAN_V2, Embedder, get_embedder

# Distinct texts per committed batch: progress shows every few seconds, and a worker that dies
# loses at most one batch.
WORKER_BATCH = 256
# Time kept back from the invocation's end: past it, no new batch starts and the job is sent on.
DEADLINE_MARGIN_S = 60.0
DEAD_LETTER_CODE = "ingestion_failed"
# A message that found its job leased comes back this long after the lease ends.
LEASE_SLACK_S = 1.0


class JobBusyError(DependencyUnavailableError):
    """Another delivery holds the job's lease: this message comes back when the lease ends."""

    def __init__(self, job_id: uuid.UUID, *, lease_left_s: float) -> None:
        super().__init__("The job is being worked on by another delivery.", details={"job_id": str(job_id)})
        self.lease_left_s = lease_left_s


@functools.cache
def embedder() -> Embedder:
    """The worker's embedder: Bedrock with ``EMBED_CONCURRENCY`` calls in flight and its own
    adaptive backoff (the client makes one attempt per call, so throttling reaches it), or the
    local model."""
    settings = get_settings()
    if settings.embedder.strip().lower() in (BEDROCK_TITAN_V2, "titan-v2", "bedrock", "amazon.titan-embed-text-v2:0"):
        return get_embedder(
            settings.embedder,
            concurrency=settings.embed_concurrency,
            client_factory=lambda: aws.client("bedrock-runtime", max_attempts=1),
        )
    return get_embedder(settings.embedder)


def handle_message(body: str, *, source_arn: str, deadline: float, receipt_handle: str | None = None) -> str:
    """Process one queue message by ``deadline`` (``time.monotonic()``); returns what was done.
    Raises on a transient fault, so the message is delivered again: after the queue's
    visibility timeout, or, when its job is leased by another delivery, when that lease ends
    (the message, by ``receipt_handle``, is made visible then)."""
    try:
        return _handle(body, source_arn=source_arn, deadline=deadline)
    except JobBusyError as busy:
        if receipt_handle is not None:
            work_queue.redeliver_after(receipt_handle, busy.lease_left_s + LEASE_SLACK_S)
        raise


def _handle(body: str, *, source_arn: str, deadline: float) -> str:
    settings = get_settings()
    try:
        message = untrusted_json.loads(body.encode())
    except (ValueError, SheetBrainError):
        logger.warning("unreadable ingestion message dropped", body=body[:200])
        return "ignored"
    if not isinstance(message, dict):
        return "ignored"
    dead_letter_arns = {settings.ingest_dead_letter_queue_arn, work_queue.LOCAL_DEAD_LETTER_ARN}
    if source_arn in dead_letter_arns:
        return _dead_letter(message)
    if "job_id" in message:
        return run_job(_job_id(message["job_id"]), deadline=deadline)
    outcomes = [
        _upload_arrived(record, deadline) for record in message.get("Records") or [] if isinstance(record, dict)
    ]
    return ",".join(outcomes) or "ignored"


def _job_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return uuid.UUID(int=0)  # names no job: "missing"


def _s3_object(record: dict[str, Any]) -> tuple[str, str, int] | None:
    """(key, version, size) of an S3 ObjectCreated record."""
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    obj = (record.get("s3") or {}).get("object") or {}
    if not isinstance(obj, dict) or "key" not in obj:
        return None
    key = unquote_plus(str(obj["key"]))  # S3 event keys are URL-encoded
    return key, uploads.object_version(obj.get("versionId"), obj.get("eTag")), int(obj.get("size") or 0)


def _upload_arrived(record: dict[str, Any], deadline: float) -> str:
    found = _s3_object(record)
    if found is None:
        return "ignored"
    key, version, size = found
    with system_transaction() as conn:
        claim = ingestion_repo.job_for_upload(conn, object_key=key, object_version=version, size_bytes=size)
    if claim.job_id is None:
        logger.info("upload event changes nothing", key=key, version=version)
        return "ignored"
    return run_job(claim.job_id, deadline=deadline)


def run_job(job_id: uuid.UUID, *, deadline: float, timings: pipeline.Timings | None = None) -> str:
    """Lease the job and take it as far as the deadline allows: ``ready``, ``failed`` (the
    document was refused), ``continued`` (sent on to the queue), or ``done`` / ``missing``
    when there is nothing to do."""
    settings = get_settings()
    lease_s = float(settings.ingest_lease_s)
    with system_transaction() as conn:
        claim = ingestion_repo.claim_job(conn, job_id, lease_s=lease_s)
    if claim.outcome == "busy":
        raise JobBusyError(job_id, lease_left_s=claim.busy_for_s)
    if claim.job is None:
        return claim.outcome
    job = claim.job
    if job.policy_status != "processing":
        with system_transaction() as conn:
            ingestion_repo.finish_job(conn, job.id)
        return "done"
    started = time.perf_counter()
    timings = timings if timings is not None else pipeline.Timings()
    try:
        outcome, chunks = _work(job, deadline=deadline - DEADLINE_MARGIN_S, lease_s=lease_s, timings=timings)
    except Exception as exc:
        if not uploads.is_client_error(exc):
            # Transient or a bug: the lease goes (the next delivery need not wait for it) and
            # the message comes back; what was committed stays.
            with system_transaction() as conn:
                ingestion_repo.release_job(conn, job.id, enqueued=False)
            raise
        error = exc if isinstance(exc, SheetBrainError) else SheetBrainError(str(exc))
        with system_transaction() as conn:
            ingestion_repo.fail_policy(conn, policy_id=job.policy_id, code=error.code, message=error.message)
        _log(job, started, 0, error=error)
        metrics.add_metric(name="PolicyIngestFailed", unit="Count", value=1)
        return "failed"
    logger.info("ingestion job", job_id=str(job.id), outcome=outcome, timings=timings.as_ms())
    if outcome == "ready":
        _log(job, started, chunks, error=None)
        metrics.add_metric(name="PolicyIngested", unit="Count", value=1)
    return outcome


def _work(job: ingestion_repo.Job, *, deadline: float, lease_s: float, timings: pipeline.Timings) -> tuple[str, int]:
    from sheetbrain.policies.extract import ExtractionBudget

    settings = get_settings()
    if not job.staged:
        with system_transaction() as conn:
            data = ingestion_repo.job_document(conn, job.id)
        if data is None:
            if job.object_key is None or job.object_version is None:
                raise uploads.UploadMissingError("The job has no document.", details={"job_id": str(job.id)})
            data = uploads.read_object(job.object_key, job.object_version, max_bytes=settings.max_upload_bytes)
        # Every bound of the API's extraction holds here but its time: the worker has minutes.
        budget = ExtractionBudget(seconds=settings.worker_extract_seconds)
        document = pipeline.prepare(data, job.filename, job.content_type, budget, timings)
        started = time.perf_counter()
        with system_transaction() as conn:
            pipeline.stage(conn, policy_id=job.policy_id, org_id=job.org_id, document=document)
            ingestion_repo.renew_lease(conn, job.id, lease_s=lease_s)
        timings.stage += time.perf_counter() - started
    model = embedder()
    done = pipeline.embed_staged(
        system_transaction,
        policy_id=job.policy_id,
        model=model,
        batch=WORKER_BATCH,
        timings=timings,
        deadline=deadline,
        after_batch=lambda conn: ingestion_repo.renew_lease(conn, job.id, lease_s=lease_s),
        writers=settings.ingest_write_connections,
    )
    if not done:
        # The lease goes first: the message sent next may be delivered before this returns.
        with system_transaction() as conn:
            ingestion_repo.release_job(conn, job.id, enqueued=False)
        with system_transaction() as conn:
            work_queue.send_job(conn, job.id)
            ingestion_repo.mark_enqueued(conn, job.id)
        return "continued", 0
    moved = pipeline.publish(
        system_transaction, policy_id=job.policy_id, org_id=job.org_id, job_id=job.id, timings=timings
    )
    return ("ready", moved) if moved is not None else ("done", 0)


def _dead_letter(message: dict[str, Any]) -> str:
    """A message that kept failing: its policy fails, with a log row, unless already settled."""
    targets: list[tuple[uuid.UUID, str] | None] = []
    with system_transaction() as conn:
        if "job_id" in message:
            targets.append(ingestion_repo.policy_of_job(conn, _job_id(message["job_id"])))
        for record in message.get("Records") or []:
            found = _s3_object(record) if isinstance(record, dict) else None
            if found is not None:
                targets.append(ingestion_repo.policy_of_upload(conn, found[0]))
        failed = [
            target
            for target in targets
            if target is not None
            and ingestion_repo.fail_policy(
                conn,
                policy_id=target[0],
                code=DEAD_LETTER_CODE,
                message="The document could not be processed after repeated attempts; upload it again.",
            )
        ]
        for policy_id, org_id in failed:
            policies_repo.log_ingestion(
                conn, org_id=org_id, user_id=None, policy_id=policy_id, filename=None, content_type=None,
                size_bytes=0, chunks=0, vectors=0, duration_ms=0, success=False, error_code=DEAD_LETTER_CODE,
                error_message="Delivered to the dead-letter queue.",
            )  # fmt: skip
    if failed:
        metrics.add_metric(name="PolicyIngestDeadLettered", unit="Count", value=len(failed))
    return "failed" if failed else "ignored"


def _log(job: ingestion_repo.Job, started: float, chunks: int, *, error: SheetBrainError | None) -> None:
    try:
        with system_transaction() as conn:
            policies_repo.log_ingestion(
                conn,
                org_id=job.org_id,
                user_id=job.user_id,
                policy_id=job.policy_id,
                filename=job.filename,
                content_type=job.content_type,
                size_bytes=job.size_bytes,
                chunks=chunks,
                vectors=chunks,
                duration_ms=int((time.perf_counter() - started) * 1000),
                success=error is None,
                error_code=error.code if error else None,
                error_message=error.message[:1000] if error else None,
            )
    except Exception:
        logger.exception("ingestion log not written", job_id=str(job.id))


def deadline_of(remaining_ms: int) -> float:
    """The ``time.monotonic()`` instant at which the invocation ends."""
    return time.monotonic() + remaining_ms / 1000
