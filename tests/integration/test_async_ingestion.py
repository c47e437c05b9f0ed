"""Asynchronous ingestion (issue 16) through the real handlers: the API's 201 and 202, the worker
fed from SQS (moto) and from the local queue, presigned uploads (S3 in moto, the local stand-in),
the dead-letter queue and abandoned uploads."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from sheetbrain.db import ingestion_repo
from sheetbrain.errors import DependencyUnavailableError
from sheetbrain.maintenance.tasks import run_task
from sheetbrain.policies import service as policies_service
from sheetbrain.policies import uploads, work_queue, worker
from sheetbrain.policies.embedding import get_embedder
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev import local_bucket, local_queue
from sheetbrain_dev.database import DatabaseUrls
from sheetbrain_dev.lambda_runtime import LocalContext, load_handler

from tests.support import TEMPLATE, SettingsEnv, call, claims_for

SECTION = """## {n}. Lookups in workbook {n}
{n}.1 All lookups in the workbook number {n} must use exact match; approximate VLOOKUP is prohibited.
{n}.2 Workbook {n} must not link to other workbooks or import data from the web.

"""


def policy_text(sections: int) -> str:
    return "# Spreadsheet controls\n\n" + "".join(SECTION.format(n=n) for n in range(1, sections + 1))


class Recording:
    """The local model, recording the policy's progress as the worker reads it before each batch."""

    def __init__(self, claims: dict[str, str]) -> None:
        self.inner = get_embedder("local-minilm")
        self.model, self.dimension = self.inner.model, self.inner.dimension
        self.claims = claims
        self.policy_id: str | None = None
        self.seen: list[tuple[int, int | None]] = []
        self.texts = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        if self.policy_id:
            progress = call("GET", f"/api/policies/{self.policy_id}", claims=self.claims).json()["progress"]
            self.seen.append((progress["chunks_done"], progress["chunks_total"]))
        self.texts += len(texts)
        return self.inner.embed(texts)


class Failing:
    model, dimension = "sentence-transformers/all-MiniLM-L6-v2", 384

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise DependencyUnavailableError("The embedding service (Amazon Bedrock) is unavailable.")


def run_worker(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The worker function's handler on an SQS event, with the 15 minutes of its template."""
    function = TEMPLATE.functions["IngestWorkerFunction"]
    context = LocalContext(function_name=function.logical_id, timeout_s=function.timeout_s)
    result: dict[str, Any] = load_handler(function)({"Records": records}, context)
    return result


def sqs_records(messages: list[dict[str, Any]], queue_arn: str) -> list[dict[str, Any]]:
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"]},
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "eu-west-1",
        }
        for m in messages
    ]


class Aws:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name="eu-west-1")
        self.s3 = boto3.client("s3", region_name="eu-west-1")
        dlq = self.sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
        self.dlq_url = dlq
        self.dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": "2"})
        self.queue_url = self.sqs.create_queue(
            QueueName="ingest", Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "0"}
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.s3.create_bucket(Bucket="uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})

    def receive(self, url: str | None = None) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=url or self.queue_url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
        )
        messages: list[dict[str, Any]] = got.get("Messages", [])
        return messages


@pytest.fixture
def aws_env(database: DatabaseUrls, settings_env: SettingsEnv) -> Iterator[Aws]:
    with mock_aws():
        env = Aws()
        settings_env(
            INGEST_QUEUE_URL=env.queue_url,
            INGEST_DEAD_LETTER_QUEUE_ARN=env.dlq_arn,
            UPLOAD_BUCKET="uploads",
            INGEST_INLINE_MAX_BYTES="500",
        )
        yield env


@pytest.fixture
def admin(database: DatabaseUrls) -> tuple[str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    org = f"org_async{suffix}"
    return org, claims_for(f"user_async{suffix}", org, "org:admin")


def chunk_counts(owner: str, policy_id: str) -> tuple[int, int, int | None, str]:
    """(searchable chunks, staged chunks, chunks_total, status) of a policy."""
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM policy_chunks WHERE policy_id = p.id),
                      (SELECT count(*) FROM ingestion_chunks WHERE policy_id = p.id), p.chunks_total, p.status
               FROM policies p WHERE p.id = %s""",
            (policy_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2], str(row[3])


def log_rows(owner: str, org: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(owner) as conn:
        return conn.execute(
            "SELECT success, error_code, chunks FROM ingestion_logs WHERE org_id = %s ORDER BY id", (org,)
        ).fetchall()


def test_a_small_document_is_201_and_ready(aws_env: Aws, admin: tuple[str, dict[str, str]]) -> None:
    # Given a document under the inline size
    _, claims = admin
    # When it is ingested
    reply = call("POST", "/api/ingest", claims=claims, body={"title": "Small", "content": policy_text(1)})
    # Then it is ready at once, nothing is queued, and its status says so
    assert reply.status == 201, reply.json()
    assert reply.json()["status"] == "ready"
    policy = call("GET", f"/api/policies/{reply.json()['policy_id']}", claims=claims).json()
    assert (policy["status"], policy["progress"], policy["error"]) == ("ready", None, None)
    assert aws_env.receive() == []


def test_a_large_document_is_202_then_ready_with_progress_over_time_and_redelivery_applies_once(
    aws_env: Aws,
    admin: tuple[str, dict[str, str]],
    database: DatabaseUrls,
    monkeypatch: pytest.MonkeyPatch,
    settings_env: SettingsEnv,
) -> None:
    # Given a document over the inline size, and a worker embedding two texts per batch and
    # writing them on two connections while it embeds the next
    org, claims = admin
    settings_env(INGEST_WRITE_CONNECTIONS="2")
    recording = Recording(claims)
    monkeypatch.setattr(worker, "embedder", lambda: recording)
    monkeypatch.setattr(worker, "WORKER_BATCH", 2)

    # When it is ingested
    reply = call("POST", "/api/ingest", claims=claims, body={"title": "Large", "content": policy_text(6)})

    # Then the answer is 202 with the status URL, and the policy is processing, not searchable
    assert reply.status == 202, reply.json()
    policy_id = reply.json()["policy_id"]
    assert reply.json() == {"policy_id": policy_id, "status": "processing", "status_url": f"/api/policies/{policy_id}"}
    assert reply.header("Location") == f"/api/policies/{policy_id}"
    pending = call("GET", f"/api/policies/{policy_id}", claims=claims).json()
    assert (pending["status"], pending["progress"]) == ("processing", {"chunks_done": 0, "chunks_total": None})
    assert (
        call("POST", "/api/audit", claims=claims, body={"formulas": ["=VLOOKUP(A1,B:C,2)"]}).json()["rag_used"] is False
    )

    # When the worker gets the queued message
    messages = aws_env.receive()
    assert [json.loads(m["Body"]) for m in messages] == [{"job_id": json.loads(messages[0]["Body"])["job_id"]}]
    recording.policy_id = policy_id
    result = run_worker(sqs_records(messages, aws_env.queue_arn))

    # Then it succeeded, progress grew two chunks a batch, and the policy is ready and searchable
    assert result == {"batchItemFailures": []}
    searchable, staged, total, status = chunk_counts(database.owner, policy_id)
    assert (searchable, staged, status) == (total, 0, "ready")
    assert total is not None and total >= 6
    # (before batch i, the 2i chunks embedded so far are written, but for at most two writes a
    # connection still in flight: 4 writes of 2 chunks)
    assert len(recording.seen) == total // 2
    assert [t for _, t in recording.seen] == [total] * (total // 2)
    done = [d for d, _ in recording.seen]
    assert done == sorted(done) and done[0] == 0
    assert all(d % 2 == 0 and max(0, 2 * i - 8) <= d <= 2 * i for i, d in enumerate(done))
    ready = call("GET", f"/api/policies/{policy_id}", claims=claims).json()
    assert (ready["status"], ready["progress"], ready["error"]) == ("ready", None, None)
    assert ready["content"].startswith("# Spreadsheet controls")
    assert log_rows(database.owner, org) == [(True, None, total)]

    # When the same message is delivered again (at least once)
    embedded = recording.texts
    again = run_worker(sqs_records(messages, aws_env.queue_arn))

    # Then nothing changes: one policy's chunks, not two, nothing embedded, no second log row
    assert again == {"batchItemFailures": []}
    assert chunk_counts(database.owner, policy_id) == (total, 0, total, "ready")
    assert recording.texts == embedded
    assert log_rows(database.owner, org) == [(True, None, total)]


def test_a_worker_that_dies_mid_way_resumes_from_its_last_batch(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queued large document and a worker whose embedder fails after two batches
    _, claims = admin
    monkeypatch.setattr(worker, "WORKER_BATCH", 2)
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    inner = get_embedder("local-minilm")
    calls: list[int] = []

    class DiesAfterTwo:
        model, dimension = inner.model, inner.dimension

        def embed(self, texts: list[str]) -> list[list[float]]:
            calls.append(len(texts))
            if len(calls) > 2:
                raise DependencyUnavailableError("The embedding service (Amazon Bedrock) is unavailable.")
            return inner.embed(texts)

    monkeypatch.setattr(worker, "embedder", DiesAfterTwo)
    messages = aws_env.receive()
    # When it is delivered: the record fails, with 4 chunks committed
    failed = run_worker(sqs_records(messages, aws_env.queue_arn))
    assert failed == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    progress = call("GET", f"/api/policies/{policy_id}", claims=claims).json()["progress"]
    assert progress["chunks_done"] == 4
    # When it comes back to a healthy worker
    resumed: list[int] = []

    class Healthy:
        model, dimension = inner.model, inner.dimension

        def embed(self, texts: list[str]) -> list[list[float]]:
            resumed.append(len(texts))
            return inner.embed(texts)

    monkeypatch.setattr(worker, "embedder", Healthy)
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn)) == {"batchItemFailures": []}
    # Then only the chunks not yet embedded were embedded, and it is ready
    total = progress["chunks_total"]
    assert sum(resumed) == total - 4
    assert chunk_counts(database.owner, policy_id) == (total, 0, total, "ready")


def hold_lease(owner: str, job_id: str, seconds: float) -> None:
    """Another delivery (an inline attempt, a slow worker) leases the job."""
    with psycopg.connect(owner) as conn:
        assert ingestion_repo.claim_job(conn, uuid.UUID(job_id), lease_s=seconds).outcome == "claimed"


def test_a_message_for_a_leased_job_comes_back_when_the_lease_ends_not_after_the_visibility_timeout(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack's 90-minute visibility timeout, a queued large document, and another
    # delivery holding its job for half a second more
    aws_env.sqs.set_queue_attributes(QueueUrl=aws_env.queue_url, Attributes={"VisibilityTimeout": "5400"})
    _, claims = admin
    monkeypatch.setattr(worker, "embedder", lambda: get_embedder("local-minilm"))
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    messages = aws_env.receive()
    hold_lease(database.owner, job_of(database.owner, policy_id), 0.5)

    # When the worker gets the message while the lease holds
    busy = run_worker(sqs_records(messages, aws_env.queue_arn))

    # Then the record failed, is hidden for the lease's remaining half second plus a second
    # (rounded up: 2 s), not 90 minutes, and the next delivery finishes the job
    assert busy == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert aws_env.receive() == []
    time.sleep(2.2)
    again = aws_env.receive()
    assert [(m["MessageId"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [
        (messages[0]["MessageId"], "2")
    ]
    assert run_worker(sqs_records(again, aws_env.queue_arn)) == {"batchItemFailures": []}
    assert chunk_counts(database.owner, policy_id)[3] == "ready"


def test_a_message_for_a_leased_job_whose_handle_sqs_refuses_waits_out_its_visibility_timeout(
    aws_env: Aws,
    admin: tuple[str, dict[str, str]],
    database: DatabaseUrls,
    logged_warnings: list[tuple[str, dict[str, Any]]],
) -> None:
    # Given a queued large document whose job another delivery holds, delivered with a receipt
    # handle SQS does not know (an expired one)
    aws_env.sqs.set_queue_attributes(QueueUrl=aws_env.queue_url, Attributes={"VisibilityTimeout": "5400"})
    _, claims = admin
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    messages = aws_env.receive()
    hold_lease(database.owner, job_of(database.owner, policy_id), 0.5)
    records = sqs_records(messages, aws_env.queue_arn)
    records[0]["receiptHandle"] = "expired"

    # When the worker gets it
    busy = run_worker(records)

    # Then the record fails as busy (not as the refused hint), the refusal is logged, and the
    # message keeps the queue's visibility timeout
    assert busy == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert (
        "message not brought forward; it comes back after the queue's visibility timeout",
        {"error": "ReceiptHandleIsInvalid", "delay_s": 2},
    ) in logged_warnings
    time.sleep(2.2)
    assert aws_env.receive() == []


def test_the_local_queue_brings_a_message_for_a_leased_job_back_when_the_lease_ends(
    database: DatabaseUrls, admin: tuple[str, dict[str, str]], settings_env: SettingsEnv
) -> None:
    # Given the local queue with the stack's visibility timeout, and a queued job another
    # delivery holds for two minutes
    settings_env(INGEST_INLINE_MAX_BYTES="500", LOCAL_QUEUE_VISIBILITY_S="5400")
    _, claims = admin
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    hold_lease(database.owner, job_of(database.owner, policy_id), 120)

    # When the runner delivers it
    assert local_queue.deliver_once(run_worker_event) == 1

    # Then the message stays queued, due when the lease ends plus a second (121 s), not in 5400 s
    with psycopg.connect(database.owner) as conn:
        rows = conn.execute(
            """SELECT receive_count, extract(epoch FROM visible_at - now())::float8
               FROM work_queue WHERE queue = 'ingest'"""
        ).fetchall()
    assert len(rows) == 1 and rows[0][0] == 1
    assert 115 < rows[0][1] <= 121


def test_a_job_sent_on_gives_up_its_lease_before_its_message_goes(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queued large document, a worker out of time after its first batch, and a look at
    # the job's lease from another connection at the moment its next message is sent
    _, claims = admin
    monkeypatch.setattr(worker, "WORKER_BATCH", 2)
    monkeypatch.setattr(worker, "DEADLINE_MARGIN_S", 0.0)
    monkeypatch.setattr(worker, "embedder", lambda: get_embedder("local-minilm"))
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    job_id = job_of(database.owner, policy_id)
    leases_at_send: list[Any] = []
    send_job = work_queue.send_job

    def look_then_send(conn: psycopg.Connection, job: uuid.UUID) -> None:
        with psycopg.connect(database.owner) as other:
            leases_at_send.append(
                other.execute("SELECT lease_until FROM ingestion_jobs WHERE id = %s", (job,)).fetchone()
            )
        send_job(conn, job)

    monkeypatch.setattr(work_queue, "send_job", look_then_send)
    first = aws_env.receive()

    # When it is delivered with its deadline already here
    outcome = worker.handle_message(first[0]["Body"], source_arn=aws_env.queue_arn, deadline=time.monotonic())

    # Then it was sent on with no lease held, so the next message's delivery can take the job
    assert outcome == "continued"
    assert leases_at_send == [(None,)]
    with psycopg.connect(database.owner) as conn:
        assert conn.execute(
            "SELECT enqueued_at IS NOT NULL FROM ingestion_jobs WHERE id = %s", (job_id,)
        ).fetchone() == (True,)
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn)) == {"batchItemFailures": []}
    assert chunk_counts(database.owner, policy_id)[3] == "ready"


def corpus_statistics(owner: str, org: str) -> tuple[Any, ...]:
    """The org's full-text statistics and postings: (chunks, lexemes, postings, their sums)."""
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            """SELECT (SELECT chunks FROM policy_corpus WHERE org_id = %(org)s),
                      (SELECT count(*) FROM policy_lexemes WHERE org_id = %(org)s),
                      (SELECT coalesce(sum(chunks), 0) FROM policy_lexemes WHERE org_id = %(org)s),
                      (SELECT count(*) FROM policy_postings WHERE org_id = %(org)s)""",
            {"org": org},
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_search_while_a_policy_processes_finds_only_ready_policies(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ready policy, and a larger one on lookups queued for the worker, which embeds two
    # texts a batch
    org, claims = admin
    small = "# Naming\n\n1.1 Every workbook must have a named owner recorded on its cover sheet.\n"
    ready = call("POST", "/api/ingest", claims=claims, body={"title": "Naming", "content": small})
    assert ready.status == 201, ready.json()
    ready_id = ready.json()["policy_id"]
    processing = call("POST", "/api/ingest", claims=claims, body={"title": "Lookups", "content": policy_text(6)})
    assert processing.status == 202
    processing_id = processing.json()["policy_id"]
    identity = Identity(user_id=claims["sub"], org_id=org, role="admin")
    queries = ["approximate VLOOKUP exact match lookups", "named owner on the cover sheet"]
    inner = get_embedder("local-minilm")
    seen: list[tuple[int, set[str], set[str]]] = []

    class SearchingBetweenBatches:
        model, dimension = inner.model, inner.dimension

        def embed(self, texts: list[str]) -> list[list[float]]:
            # When a search runs between the worker's batches
            with psycopg.connect(database.owner) as conn:
                row = conn.execute("SELECT count(*) FROM policy_chunks WHERE policy_id = %s", (processing_id,))
                written = int(row.fetchone()[0])  # type: ignore[index]
            lookups, naming = policies_service.retrieve(identity, queries, k=5)
            by_vector = {str(h.policy_id) for h in naming if h.vector_rank is not None}
            seen.append((written, {str(h.policy_id) for h in lookups + naming}, by_vector))
            return inner.embed(texts)

    monkeypatch.setattr(worker, "embedder", SearchingBetweenBatches)
    monkeypatch.setattr(worker, "WORKER_BATCH", 2)
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn)) == {"batchItemFailures": []}

    # Then the processing policy's chunks were already in the searchable table (indexed) but
    # never returned, and the ready policy was still found, by vector search too
    assert max(written for written, _, _ in seen) >= 4
    assert all(found == {ready_id} and by_vector == {ready_id} for _, found, by_vector in seen)
    # When it is ready, Then search finds it
    lookups, _ = policies_service.retrieve(identity, queries, k=5)
    assert lookups[0].policy_id == uuid.UUID(processing_id)


def test_a_policy_failed_or_deleted_mid_way_leaves_no_chunks_and_the_statistics_as_they_were(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an org with a ready policy, and two large ones whose worker died after two batches
    # (4 chunks each already in the searchable table)
    org, claims = admin
    assert call("POST", "/api/ingest", claims=claims, body={"title": "S", "content": policy_text(1)}).status == 201
    before = corpus_statistics(database.owner, org)
    inner = get_embedder("local-minilm")
    calls: list[int] = []

    class DiesAfterTwo:
        model, dimension = inner.model, inner.dimension

        def embed(self, texts: list[str]) -> list[list[float]]:
            calls.append(len(texts))
            if len(calls) % 3 == 0:
                raise DependencyUnavailableError("The embedding service (Amazon Bedrock) is unavailable.")
            return inner.embed(texts)

    monkeypatch.setattr(worker, "embedder", DiesAfterTwo)
    monkeypatch.setattr(worker, "WORKER_BATCH", 2)
    to_fail, to_delete = (
        call("POST", "/api/ingest", claims=claims, body={"title": title, "content": policy_text(6)}).json()["policy_id"]
        for title in ("To fail", "To delete")
    )
    messages = aws_env.receive()
    assert len(messages) == 2
    assert len(run_worker(sqs_records(messages, aws_env.queue_arn))["batchItemFailures"]) == 2
    assert chunk_counts(database.owner, to_fail)[0] == 4
    assert chunk_counts(database.owner, to_delete)[0] == 4

    # When one is failed (from the dead-letter queue) and the other deleted
    failed = worker.handle_message(json.dumps({"job_id": job_of(database.owner, to_fail)}),
                                   source_arn=aws_env.dlq_arn, deadline=0.0)  # fmt: skip
    assert failed == "failed"
    assert call("DELETE", f"/api/policies/{to_delete}", claims=claims).status == 204

    # Then neither leaves a chunk behind, and the org's statistics are those of its ready policy
    assert chunk_counts(database.owner, to_fail)[:2] == (0, 0)
    with psycopg.connect(database.owner) as conn:
        left = conn.execute("SELECT count(*) FROM policy_chunks WHERE policy_id = %s", (to_delete,)).fetchone()
    assert left == (0,)
    assert corpus_statistics(database.owner, org) == before


def test_chunks_embedded_before_batches_moved_into_search_are_moved_not_embedded_again(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job staged by a worker that then failed, four of whose chunks hold a vector in the
    # staging table, as the code before chunks moved batch by batch left them
    _, claims = admin
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    monkeypatch.setattr(worker, "embedder", Failing)
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn))["batchItemFailures"]
    legacy = "[" + ",".join(["0.05"] * 384) + "]"
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "UPDATE ingestion_chunks SET embedding = %s::vector WHERE policy_id = %s AND ordinal < 4",
            (legacy, policy_id),
        )
    inner = get_embedder("local-minilm")
    embedded: list[str] = []

    class Counting:
        model, dimension = inner.model, inner.dimension

        def embed(self, texts: list[str]) -> list[list[float]]:
            embedded.extend(texts)
            return inner.embed(texts)

    # When the message comes back to a healthy worker
    monkeypatch.setattr(worker, "embedder", Counting)
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn)) == {"batchItemFailures": []}

    # Then every chunk is searchable and the policy ready, the four with the vectors they had
    total = chunk_counts(database.owner, policy_id)[2]
    assert total is not None
    assert chunk_counts(database.owner, policy_id) == (total, 0, total, "ready")
    assert len(embedded) == total - 4
    with psycopg.connect(database.owner) as conn:
        kept = conn.execute(
            "SELECT ordinal FROM policy_chunks WHERE policy_id = %s AND embedding = %s::vector ORDER BY ordinal",
            (policy_id, legacy),
        ).fetchall()
    assert kept == [(0,), (1,), (2,), (3,)]


def job_of(owner: str, policy_id: str) -> str:
    with psycopg.connect(owner) as conn:
        row = conn.execute("SELECT id FROM ingestion_jobs WHERE policy_id = %s", (policy_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_message_that_keeps_failing_lands_in_the_dlq_and_the_policy_fails(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queued document and an embedder that is always down
    org, claims = admin
    monkeypatch.setattr(worker, "embedder", Failing)
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    # When its message is received and fails as often as the redrive policy allows (2)
    for _ in range(2):
        messages = aws_env.receive()
        assert len(messages) == 1
        result = run_worker(sqs_records(messages, aws_env.queue_arn))
        assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    # Then SQS moves it to the dead-letter queue, whose delivery fails the policy with a log row
    assert aws_env.receive() == []
    dead = aws_env.receive(aws_env.dlq_url)
    assert len(dead) == 1
    assert run_worker(sqs_records(dead, aws_env.dlq_arn)) == {"batchItemFailures": []}
    policy = call("GET", f"/api/policies/{policy_id}", claims=claims).json()
    assert policy["status"] == "failed" and policy["progress"] is None
    assert policy["error"] == {
        "code": "ingestion_failed",
        "message": "The document could not be processed after repeated attempts; upload it again.",
    }
    assert chunk_counts(database.owner, policy_id)[:2] == (0, 0)
    assert log_rows(database.owner, org) == [(False, "ingestion_failed", 0)]


def test_a_corrupt_document_in_the_worker_fails_with_its_reason(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given a PDF that is not one, over the inline size (so only the worker reads it)
    org, claims = admin
    fields = {"title": "Broken", "file": ("broken.pdf", b"%PDF-1.4\n" + b"garbage " * 400)}
    boundary = "----sb" + uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        if isinstance(value, tuple):
            body += (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{value[0]}"\r\n'
                    "Content-Type: application/pdf\r\n\r\n"
                ).encode()
                + value[1]
                + b"\r\n"
            )
        else:
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    body += f"--{boundary}--\r\n".encode()
    reply = call(
        "POST",
        "/api/ingest",
        claims=claims,
        raw_body=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status == 202, reply.json()
    # When the worker takes it
    assert run_worker(sqs_records(aws_env.receive(), aws_env.queue_arn)) == {"batchItemFailures": []}
    # Then it failed, saying why, with a log row, and the record succeeded (it is not retried)
    policy = call("GET", f"/api/policies/{reply.json()['policy_id']}", claims=claims).json()
    assert policy["status"] == "failed"
    assert policy["error"]["code"] == "corrupt_document"
    assert log_rows(database.owner, org) == [(False, "corrupt_document", 0)]


def test_an_s3_upload_is_processed_once_and_other_events_change_nothing(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a presigned upload for a 3,000-byte Markdown file
    _, claims = admin
    monkeypatch.setattr(worker, "embedder", lambda: get_embedder("local-minilm"))
    data = policy_text(8).encode()[:3000]
    reply = call(
        "POST",
        "/api/policies/uploads",
        claims=claims,
        body={"filename": "controls.md", "content_type": "text/markdown", "size": len(data), "title": "Uploaded"},
    )
    assert reply.status == 201, reply.json()
    out = reply.json()
    policy_id, upload = out["policy_id"], out["upload"]
    assert out["status"] == "awaiting_upload"
    # Then the signed policy fixes the key, the content type, the size range and the expiry
    signed = json.loads(base64.b64decode(upload["fields"]["policy"]))
    conditions = signed["conditions"]
    key = upload["fields"]["key"]
    assert key == f"uploads/{admin[0]}/{policy_id}"
    assert {"key": key} in conditions and {"bucket": "uploads"} in conditions
    assert ["content-length-range", 1, len(data)] in conditions
    assert {"Content-Type": "text/markdown"} in conditions
    expires = datetime.fromisoformat(signed["expiration"].replace("Z", "+00:00"))
    assert timedelta(seconds=890) < expires - datetime.now(UTC) <= timedelta(seconds=900)
    assert call("GET", f"/api/policies/{policy_id}", claims=claims).json()["status"] == "awaiting_upload"

    # When the file lands (S3 itself checks the form; moto does not) and its event arrives
    put = aws_env.s3.put_object(Bucket="uploads", Key=key, Body=data, ContentType="text/markdown")

    def event(version: str) -> dict[str, Any]:
        record = {
            "eventName": "ObjectCreated:Post",
            "s3": {"bucket": {"name": "uploads"}, "object": {"key": key, "size": len(data), "versionId": version}},
        }
        return {"MessageId": uuid.uuid4().hex, "ReceiptHandle": "r", "Body": json.dumps({"Records": [record]}),
                "Attributes": {"ApproximateReceiveCount": "1"}, "MD5OfBody": ""}  # fmt: skip

    first = event(put["VersionId"])
    assert run_worker(sqs_records([first], aws_env.queue_arn)) == {"batchItemFailures": []}
    # Then the policy is ready with the file's text
    searchable, _, total, status = chunk_counts(database.owner, policy_id)
    assert (status, searchable) == ("ready", total)
    assert call("GET", f"/api/policies/{policy_id}", claims=claims).json()["content"] == data.decode().rstrip()

    # When the same event comes again, and another version of the key is uploaded
    assert run_worker(sqs_records([first], aws_env.queue_arn)) == {"batchItemFailures": []}
    other = aws_env.s3.put_object(Bucket="uploads", Key=key, Body=b"# Other\n\nNothing.", ContentType="text/markdown")
    assert run_worker(sqs_records([event(other["VersionId"])], aws_env.queue_arn)) == {"batchItemFailures": []}
    # Then nothing changed
    assert chunk_counts(database.owner, policy_id) == (total, 0, total, "ready")
    assert call("GET", f"/api/policies/{policy_id}", claims=claims).json()["content"] == data.decode().rstrip()


def test_an_upload_over_the_limit_is_refused_before_a_url_is_made(
    aws_env: Aws, admin: tuple[str, dict[str, str]], settings_env: SettingsEnv
) -> None:
    _, claims = admin
    settings_env(MAX_UPLOAD_BYTES="1000")
    body = {"filename": "big.pdf", "content_type": "application/pdf", "size": 1001, "title": "Big"}
    reply = call("POST", "/api/policies/uploads", claims=claims, body=body)
    assert reply.status == 413
    assert reply.json()["error"]["details"] == {"field": "body.size", "limit_bytes": 1000, "size_bytes": 1001}


def test_an_abandoned_upload_expires_to_failed_and_frees_its_place(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls, settings_env: SettingsEnv
) -> None:
    # Given an upload started, whose URL expired over an hour ago
    org, claims = admin
    body = {"filename": "p.md", "content_type": "text/markdown", "size": 100, "title": "Never sent"}
    policy_id = call("POST", "/api/policies/uploads", claims=claims, body=body).json()["policy_id"]
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "UPDATE policies SET upload_expires_at = now() - interval '61 minutes' WHERE id = %s", (policy_id,)
        )
    # When the cleanup task runs
    summary = run_task("cleanup")
    # Then the policy failed, saying why, with a log row
    assert summary["uploads_expired"] >= 1
    policy = call("GET", f"/api/policies/{policy_id}", claims=claims).json()
    assert policy["status"] == "failed"
    assert policy["error"] == {
        "code": "upload_expired",
        "message": "The upload did not arrive before its URL expired; request a new upload.",
    }
    assert log_rows(database.owner, org) == [(False, "upload_expired", 0)]


def test_processing_policies_count_against_the_plan(
    aws_env: Aws, admin: tuple[str, dict[str, str]], database: DatabaseUrls
) -> None:
    # Given an org on a plan of 3 policies, with 3 uploads awaiting their files
    org, claims = admin
    call("GET", "/api/policies", claims=claims)  # the org exists
    with psycopg.connect(database.owner) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'policies', 3, 'test')",
            (org,),
        )
    body = {"filename": "p.md", "content_type": "text/markdown", "size": 100, "title": "P"}
    for _ in range(3):
        assert call("POST", "/api/policies/uploads", claims=claims, body=body).status == 201
    # When a fourth is tried, by upload or inline
    refused = call("POST", "/api/policies/uploads", claims=claims, body=body)
    inline = call("POST", "/api/ingest", claims=claims, body={"title": "S", "content": policy_text(1)})
    # Then both are refused
    assert (refused.status, inline.status) == (429, 429)
    assert refused.json()["error"]["details"]["used"] == 3


def test_the_local_queue_delivers_at_least_once_and_dead_letters(
    database: DatabaseUrls,
    admin: tuple[str, dict[str, str]],
    settings_env: SettingsEnv,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the local queue (no SQS), a redrive after 2 receives, and no visibility wait
    settings_env(INGEST_INLINE_MAX_BYTES="500", INGEST_MAX_RECEIVE_COUNT="2", LOCAL_QUEUE_VISIBILITY_S="0")
    org, claims = admin
    monkeypatch.setattr(worker, "embedder", Failing)
    policy_id = call("POST", "/api/ingest", claims=claims, body={"title": "L", "content": policy_text(6)}).json()[
        "policy_id"
    ]
    # When the runner polls while the worker keeps failing
    delivered = [local_queue.deliver_once(run_worker_event) for _ in range(4)]
    # Then the message came twice, then once from the dead-letter queue, which failed the policy
    assert delivered[:3] == [1, 1, 1]
    assert chunk_counts(database.owner, policy_id)[3] == "failed"
    assert log_rows(database.owner, org) == [(False, "ingestion_failed", 0)]


def run_worker_event(event: dict[str, Any]) -> dict[str, Any]:
    return run_worker(event["Records"])


def test_the_local_bucket_checks_the_signed_policy(tmp_path: Path, settings_env: SettingsEnv) -> None:
    # Given a presigned POST for the local stand-in: 10 bytes at most
    settings_env(
        UPLOAD_BUCKET="local-uploads",
        S3_ENDPOINT_URL="http://127.0.0.1:3000/_local/s3",
        LOCAL_BUCKET_SECRET="s3cret",
        LOCAL_BUCKET_DIR=str(tmp_path),
    )
    post = uploads.presign("uploads/org_x/p1", size=10, content_type="text/plain")
    assert post["url"] == "http://127.0.0.1:3000/_local/s3/local-uploads"
    fields = dict(post["fields"])
    now = datetime.now(UTC)

    def check(form: dict[str, str], file: bytes, at: datetime = now) -> None:
        local_bucket.check_post(
            "local-uploads", form, file, secret="s3cret", access_key_id=uploads.LOCAL_ACCESS_KEY_ID, now=at
        )

    # Then a file within the range, in time, is accepted and stored
    check(fields, b"0123456789")
    stored = local_bucket.store(tmp_path, "local-uploads", fields["key"], b"0123456789")
    assert (tmp_path / "local-uploads/uploads/org_x/p1").read_bytes() == b"0123456789"
    assert uploads.read_object("uploads/org_x/p1", f"e:{stored.etag}", max_bytes=10) == b"0123456789"
    # And one over the range, after the expiry, to another key, or with a forged signature is refused
    refusals = []
    for form, file, at in [
        (fields, b"01234567890", now),
        (fields, b"", now),
        (fields, b"x", now + timedelta(seconds=901)),
        ({**fields, "key": "uploads/org_y/p1"}, b"x", now),
        ({**fields, "x-amz-signature": "0" * 64}, b"x", now),
        ({**fields, "acl": "public-read"}, b"x", now),
    ]:
        with pytest.raises(local_bucket.Refusal) as refused:
            check(form, file, at)
        refusals.append((refused.value.status, refused.value.code))
    assert refusals == [
        (400, "EntityTooLarge"),
        (400, "EntityTooSmall"),
        (403, "AccessDenied"),
        (403, "AccessDenied"),
        (403, "SignatureDoesNotMatch"),
        (403, "AccessDenied"),
    ]
