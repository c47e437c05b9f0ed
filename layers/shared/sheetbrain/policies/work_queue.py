"""The ingestion work queue: SQS in AWS (``INGEST_QUEUE_URL``), the ``work_queue`` table
locally (sql/0019; the dev server's runner delivers it to the same worker)."""

from __future__ import annotations

import json
import math
import uuid
from typing import TYPE_CHECKING

from sheetbrain import aws
from sheetbrain.config import get_settings
from sheetbrain.db import system_transaction, work_queue_repo
from sheetbrain.observability import logger

if TYPE_CHECKING:
    import psycopg

INGEST_QUEUE = "ingest"
INGEST_DEAD_LETTER_QUEUE = "ingest-dlq"
# The local dead-letter queue's name as a worker sees it in a record's eventSourceARN.
LOCAL_DEAD_LETTER_ARN = f"arn:aws:sqs:local:000000000000:{INGEST_DEAD_LETTER_QUEUE}"
# SQS's longest visibility timeout (12 hours).
MAX_VISIBILITY_S = 43_200
_LOCAL_RECEIPT = "local-"


def job_message(job_id: uuid.UUID) -> str:
    return json.dumps({"job_id": str(job_id)})


def send_job(conn: psycopg.Connection, job_id: uuid.UUID) -> None:
    """Queue a job. Locally the message is written in the caller's transaction (it is sent
    if and only if that commits); to SQS it is sent now, and the caller's transaction then
    records that it was (a failed send leaves the job for the cleanup task to send again)."""
    settings = get_settings()
    if settings.ingest_queue_url:
        aws.client("sqs").send_message(QueueUrl=settings.ingest_queue_url, MessageBody=job_message(job_id))
    else:
        work_queue_repo.send(conn, queue=INGEST_QUEUE, body=job_message(job_id))


def local_receipt_handle(message_id: int) -> str:
    """The receipt handle the local runner gives a ``work_queue`` row it delivers."""
    return f"{_LOCAL_RECEIPT}{message_id}-{uuid.uuid4().hex}"


def redeliver_after(receipt_handle: str, seconds: float) -> bool:
    """Make a received message visible again in ``seconds`` (rounded up, at most SQS's 12
    hours) instead of after the queue's visibility timeout: for a message that came while its
    job was leased, due again when the lease ends. A handle of the local runner moves its row.

    A hint, never a failure of its own: when it cannot be given (a handle SQS no longer knows,
    SQS or the database unreachable) the message comes back after the visibility timeout, as
    it would have anyway; that is logged and False returned."""
    from botocore.exceptions import BotoCoreError, ClientError
    from psycopg import Error as DatabaseError

    delay = min(MAX_VISIBILITY_S, max(0, math.ceil(seconds)))
    try:
        if receipt_handle.startswith(_LOCAL_RECEIPT):
            message_id = int(receipt_handle[len(_LOCAL_RECEIPT) :].split("-", 1)[0])
            with system_transaction() as conn:
                work_queue_repo.make_visible_in(conn, message_id, delay)
            return True
        settings = get_settings()
        if not settings.ingest_queue_url:
            return False
        aws.client("sqs").change_message_visibility(
            QueueUrl=settings.ingest_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
        )
        return True
    except (ValueError, ClientError, BotoCoreError, DatabaseError) as exc:
        logger.warning(
            "message not brought forward; it comes back after the queue's visibility timeout",
            error=type(exc).__name__,
            delay_s=delay,
        )
        return False
