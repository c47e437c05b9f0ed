"""Set-up shared by the maintenance and notification tests: organizations written as the
owner, audit-log rows through the real hash-chain function, and moto's S3 and EventBridge."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import psycopg
from moto import mock_aws

from tests.support import settings_environment

REGION = "eu-west-1"
BUCKET = "sheetbrain-archive-test"
BUS = "sheetbrain-test"


def new_org(owner_url: str, *, prefix: str = "org_t", overrides: dict[str, int] | None = None) -> tuple[str, str]:
    """A fresh organization with one admin user; entitlement overrides applied."""
    suffix = uuid.uuid4().hex[:8]
    org, user = f"{prefix}{suffix}", f"user_{prefix}{suffix}"
    with psycopg.connect(owner_url) as conn:
        conn.execute("INSERT INTO users (id) VALUES (%s)", (user,))
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Test')", (org,))
        conn.execute("INSERT INTO memberships (org_id, user_id, role) VALUES (%s, %s, 'admin')", (org, user))
        for feature, value in (overrides or {}).items():
            conn.execute(
                "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, %s, %s, 'test')",
                (org, feature, value),
            )
    return org, user


def append_log(owner_url: str, org: str, user: str | None, at: datetime, n: int = 1) -> list[int]:
    """``n`` audit-log rows at ``at`` through ``audit_log_append`` (the real chain); their seqs."""
    seqs = []
    with psycopg.connect(owner_url) as conn:
        for i in range(n):
            payload = json.dumps({"formulas": 10 + i, "n": i}, sort_keys=True, separators=(",", ":"))
            row = conn.execute(
                "SELECT seq FROM audit_log_append(%s, 'audit.completed', %s, %s, %s, %s, %s)",
                (org, uuid.uuid4(), user, "actor-" + org, payload, at),
            ).fetchone()
            assert row is not None
            seqs.append(int(row[0]))
    return seqs


def consume(owner_url: str, org: str, user: str | None, metric: str, quantity: int, at: datetime) -> None:
    """Usage recorded through ``usage_consume`` (events and aggregates kept together)."""
    with psycopg.connect(owner_url) as conn:
        conn.execute(
            "SELECT * FROM usage_consume(%s, %s, %s, %s, %s, -1, %s)",
            (org, user, metric, quantity, uuid.uuid4().hex, at),
        )


@dataclass
class Aws:
    s3: Any
    events: Any
    sqs: Any
    queue_url: str

    def events_received(self, org: str) -> list[dict[str, Any]]:
        """EventBridge events for ``org`` that reached the test queue (drained)."""
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = json.loads(message["Body"])
                if event["detail"].get("org_id") == org:
                    found.append(event)
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


@contextmanager
def aws_stage() -> Iterator[Aws]:
    """moto's S3 (the archive bucket) and EventBridge (a bus whose rule forwards sheetbrain
    events to an SQS queue, so tests can read what was sent); the layer pointed at them."""
    with mock_aws(), settings_environment() as settings_env:
        settings_env(ARCHIVE_BUCKET=BUCKET, NOTIFICATIONS_EVENT_BUS=BUS)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["sheetbrain"]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
        yield Aws(s3=s3, events=events, sqs=sqs, queue_url=queue_url)
