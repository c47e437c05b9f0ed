"""The local stand-in of SQS's event source mapping: the ``work_queue`` table (sql/0019)
delivered to the ingest worker in batches, at least once, as Lambda polls SQS.

A received message is hidden for ``LOCAL_QUEUE_VISIBILITY_S``; it is deleted only when the
worker's partial batch response does not name it; a message received
``INGEST_MAX_RECEIVE_COUNT`` times goes to the dead-letter queue, whose messages the same
worker gets with the dead-letter queue's ARN, as in AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sheetbrain.config import get_settings
from sheetbrain.db import system_transaction, work_queue_repo
from sheetbrain.policies import work_queue
from sheetbrain.policies.work_queue import INGEST_DEAD_LETTER_QUEUE, INGEST_QUEUE, LOCAL_DEAD_LETTER_ARN

log = logging.getLogger("sheetbrain_dev.queue")
QUEUE_ARN = f"arn:aws:sqs:local:000000000000:{INGEST_QUEUE}"
BATCH_SIZE = 5
WORKER_FUNCTION = "IngestWorkerFunction"


def sqs_event(messages: list[work_queue_repo.Message], source_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller would pass for these messages."""
    return {
        "Records": [
            {
                "messageId": str(m.id),
                "receiptHandle": work_queue.local_receipt_handle(m.id),
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.receive_count),
                    "SentTimestamp": str(int(m.sent_at.timestamp() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": source_arn,
                "awsRegion": "local",
            }
            for m in messages
        ]
    }


def deliver_once(invoke: Callable[[dict[str, Any]], Any]) -> int:
    """One poll of each queue: redrive, receive a batch, invoke the worker, delete what it did
    not report failed. Returns the messages delivered."""
    settings = get_settings()
    delivered = 0
    for queue, arn in ((INGEST_QUEUE, QUEUE_ARN), (INGEST_DEAD_LETTER_QUEUE, LOCAL_DEAD_LETTER_ARN)):
        with system_transaction() as conn:
            if queue == INGEST_QUEUE:
                work_queue_repo.redrive(
                    conn,
                    queue=INGEST_QUEUE,
                    dead_letter_queue=INGEST_DEAD_LETTER_QUEUE,
                    max_receive_count=settings.ingest_max_receive_count,
                )
            messages = work_queue_repo.receive(
                conn, queue=queue, limit=BATCH_SIZE, visibility_s=settings.local_queue_visibility_s
            )
        if not messages:
            continue
        delivered += len(messages)
        try:
            result = invoke(sqs_event(messages, arn))
        except Exception:
            # The invocation failed as a whole: every message comes back after its visibility timeout.
            log.exception("ingest worker failed; %d messages stay queued", len(messages))
            continue
        failed = {str(f.get("itemIdentifier")) for f in (result or {}).get("batchItemFailures", [])}
        done = [m.id for m in messages if str(m.id) not in failed]
        if done:
            with system_transaction() as conn:
                work_queue_repo.delete(conn, done)
    return delivered


class QueueRunner(threading.Thread):
    """Polls the local queue while the dev server runs (once a second when it is empty)."""

    def __init__(self, invoke: Callable[[dict[str, Any]], Any], *, idle_s: float = 1.0) -> None:
        super().__init__(name="local-queue", daemon=True)
        self._invoke = invoke
        self._idle_s = idle_s
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = deliver_once(self._invoke)
            except Exception:
                log.exception("local queue poll failed")
                busy = 0
            if not busy:
                self._stop.wait(self._idle_s)

    def stop(self) -> None:
        self._stop.set()
