"""Presigned uploads of policy documents: an S3 presigned POST whose signed policy fixes the key,
the content type, the size range and the expiry; locally the same POST, signed the same way,
addressed to ``sheetbrain serve``'s stand-in of the bucket (``S3_ENDPOINT_URL``), which checks
it as S3 does and stores the file under ``LOCAL_BUCKET_DIR``."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sheetbrain import aws
from sheetbrain.config import get_settings
from sheetbrain.errors import ConfigurationError, SheetBrainError, ValidationError

# The access key id of the local stand-in's signatures (its secret is LOCAL_BUCKET_SECRET).
LOCAL_ACCESS_KEY_ID = "SHEETBRAINLOCAL"
LOCAL_REGION = "us-east-1"


class UploadMissingError(ValidationError):
    """The uploaded object is gone or changed since its event (refused, not retried)."""

    code = "upload_missing"


def upload_key(org_id: str, policy_id: uuid.UUID) -> str:
    """The one object key a policy's upload may write."""
    return f"uploads/{org_id}/{policy_id}"


def _bucket() -> str:
    bucket = get_settings().upload_bucket
    if not bucket:
        raise ConfigurationError("No upload bucket configured: set UPLOAD_BUCKET (and locally S3_ENDPOINT_URL).")
    return bucket


def _client() -> Any:
    settings = get_settings()
    if not settings.s3_endpoint_url:
        return aws.client("s3")
    if settings.local_bucket_secret is None:
        raise ConfigurationError("S3_ENDPOINT_URL needs LOCAL_BUCKET_SECRET to sign the local bucket's uploads.")
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=settings.local_bucket_secret.get_secret_value(),
        region_name=LOCAL_REGION,
    )
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def presign(key: str, *, size: int, content_type: str, now: datetime | None = None) -> dict[str, Any]:
    """A presigned POST for ``key``: the form's ``url`` and ``fields`` (the file goes last, as
    the ``file`` field) and when it expires. Its signed policy allows this key only, this
    content type, 1 to ``size`` bytes, until ``UPLOAD_URL_EXPIRY_S`` from now."""
    settings = get_settings()
    expires_in = settings.upload_url_expiry_s
    post = _client().generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, size]],
        ExpiresIn=expires_in,
    )
    expires_at = (now or datetime.now(UTC)) + timedelta(seconds=expires_in)
    return {"url": post["url"], "fields": post["fields"], "expires_at": expires_at}


def object_version(version_id: str | None, etag: str | None) -> str:
    """How a job names the object it was made from: its version id, else its ETag."""
    if version_id and version_id != "null":
        return f"v:{version_id}"
    return f"e:{(etag or '').strip(chr(34))}"


def read_object(key: str, version: str, *, max_bytes: int) -> bytes:
    """The bytes of the uploaded object ``version`` (see ``object_version``), at most
    ``max_bytes`` (more is refused before reading)."""
    from sheetbrain.policies.extract import DocumentTooLargeError

    settings = get_settings()
    if settings.local_bucket_dir:
        return _read_local(Path(settings.local_bucket_dir), key, version, max_bytes)
    from botocore.exceptions import ClientError

    kind, _, value = version.partition(":")
    options: dict[str, str] = {"VersionId": value} if kind == "v" else {"IfMatch": f'"{value}"'}
    try:
        response = aws.client("s3").get_object(Bucket=_bucket(), Key=key, **options)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchVersion", "PreconditionFailed", "412", "404"):
            raise UploadMissingError("The uploaded file is gone or was replaced.", details={"key": key}) from exc
        raise
    length = int(response.get("ContentLength", 0))
    if length > max_bytes:
        raise DocumentTooLargeError(
            f"The upload is {length} bytes; the limit is {max_bytes}.",
            details={"field": "body.file", "budget": "upload_bytes", "limit": max_bytes},
        )
    data: bytes = response["Body"].read(max_bytes + 1)
    return data


def _read_local(root: Path, key: str, version: str, max_bytes: int) -> bytes:
    from sheetbrain.policies.extract import DocumentTooLargeError

    base = (root / _bucket()).resolve()
    path = (base / key).resolve()
    if base not in path.parents or not path.is_file():
        raise UploadMissingError("The uploaded file is gone or was replaced.", details={"key": key})
    if path.stat().st_size > max_bytes:
        raise DocumentTooLargeError(
            f"The upload is {path.stat().st_size} bytes; the limit is {max_bytes}.",
            details={"field": "body.file", "budget": "upload_bytes", "limit": max_bytes},
        )
    data = path.read_bytes()
    kind, _, value = version.partition(":")
    if kind == "e" and hashlib.md5(data, usedforsecurity=False).hexdigest() != value:
        raise UploadMissingError("The uploaded file is gone or was replaced.", details={"key": key})
    return data


def is_client_error(exc: BaseException) -> bool:
    """A refusal of the document itself (4xx), as opposed to a fault worth retrying."""
    return isinstance(exc, SheetBrainError) and exc.status < 500
