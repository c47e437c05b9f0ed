"""The audit-log archive in S3: gzip JSON Lines objects, written and read back.

Objects are compressed with a fixed gzip header (mtime 0), so the same rows always give the
same bytes and re-archiving a day rewrites an identical object.
"""

from __future__ import annotations

import gzip
from typing import Any

from sheetbrain import aws
from sheetbrain.errors import DependencyUnavailableError, SheetBrainError


class ArchiveVerificationError(SheetBrainError):
    """An archive object read back does not hold the rows written: nothing is deleted."""

    code = "archive_verification_failed"


def s3_client() -> Any:
    """The S3 client (shared, made on first use)."""
    return aws.client("s3", connect_timeout=5, read_timeout=30, max_attempts=5)


def object_key(org_id: str, day: str) -> str:
    return f"audit-log/{org_id}/{day}.jsonl.gz"


def encode(lines: list[str]) -> bytes:
    return gzip.compress("".join(line + "\n" for line in lines).encode(), mtime=0)


def decode(body: bytes) -> list[str]:
    return gzip.decompress(body).decode().splitlines()


def read_lines(bucket: str, key: str) -> list[str] | None:
    """The lines of an archive object, or None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise DependencyUnavailableError(f"S3 read of {key} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError(f"S3 read of {key} failed: {exc}") from exc
    return decode(body)


def write_lines(bucket: str, key: str, lines: list[str], metadata: dict[str, str]) -> None:
    """Write an archive object (the whole object, replacing any earlier one)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client().put_object(
            Bucket=bucket,
            Key=key,
            Body=encode(lines),
            ContentType="application/gzip",
            Metadata=metadata,
        )
    except (ClientError, BotoCoreError) as exc:
        raise DependencyUnavailableError(f"S3 write of {key} failed: {exc}") from exc
