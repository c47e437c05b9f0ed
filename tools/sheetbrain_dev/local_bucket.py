"""The local stand-in of the upload bucket: S3's browser-based POST, checked as S3 checks it.

``sheetbrain serve`` answers ``POST /_local/s3/<bucket>`` (the URL of a presigned POST that the
layer signs with ``S3_ENDPOINT_URL``): the form's policy must carry a valid AWS Signature
Version 4 made with ``LOCAL_BUCKET_SECRET``, must not have expired, and every condition must
hold (the bucket, the key, the content type, the content-length range), and every form field
must be covered by one, as S3 requires. The file is stored under ``LOCAL_BUCKET_DIR/<bucket>/<key>``
and an S3-shaped ``ObjectCreated:Post`` event goes to the local work queue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from sheetbrain_dev.paths import STATE_DIR

PATH_PREFIX = "/_local/s3/"
SECRET_FILE = STATE_DIR / "local-bucket-secret"
# Form fields S3 never asks a condition for.
_UNCONDITIONED = {"policy", "x-amz-signature", "file"}


def local_secret() -> str:
    """The stand-in's signing secret, made once in ``.sheetbrain/`` like the JWT key."""
    if not SECRET_FILE.exists():
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_text(secrets.token_urlsafe(32))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


@dataclass
class Refusal(Exception):
    status: int
    code: str
    message: str

    def xml(self) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
            f"<Message>{self.message}</Message></Error>"
        ).encode()


@dataclass
class Stored:
    bucket: str
    key: str
    size: int
    etag: str

    def s3_event(self) -> str:
        """The S3 event notification for this object, as S3 sends it to SQS."""
        return json.dumps(
            {
                "Records": [
                    {
                        "eventVersion": "2.1",
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Post",
                        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        "s3": {
                            "bucket": {"name": self.bucket},
                            "object": {"key": quote_plus(self.key), "size": self.size, "eTag": self.etag},
                        },
                    }
                ]
            }
        )


def parse_form(body: bytes, content_type: str) -> tuple[dict[str, str], bytes]:
    """The text fields and the file of a multipart/form-data POST."""
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise Refusal(400, "MalformedPOSTRequest", "The POST body is not well-formed multipart/form-data.")
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            file = data
            break  # S3 ignores every field after the file
        fields[name] = data.decode("utf-8", "replace")
    if file is None:
        raise Refusal(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    return fields, file


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_post(
    bucket: str, fields: dict[str, str], file: bytes, *, secret: str, access_key_id: str, now: datetime
) -> None:
    """Refuse the POST as S3 would, or return: signature, expiry, conditions, covered fields."""
    lowered = {k.lower(): v for k, v in fields.items()}
    for needed in ("policy", "x-amz-signature", "x-amz-credential", "x-amz-algorithm", "key"):
        if needed not in lowered:
            raise Refusal(400, "InvalidArgument", f"Bucket POST must contain a field named '{needed}'.")
    if lowered["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
        raise Refusal(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported.")
    credential = lowered["x-amz-credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise Refusal(400, "InvalidArgument", "The credential is malformed.")
    if credential[0] != access_key_id:
        raise Refusal(403, "InvalidAccessKeyId", "The access key id does not exist in our records.")
    key = _signing_key(secret, credential[1], credential[2], credential[3])
    expected = hmac.new(key, lowered["policy"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, lowered["x-amz-signature"]):
        raise Refusal(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    try:
        document: dict[str, Any] = json.loads(base64.b64decode(lowered["policy"], validate=True))
        expiration = datetime.fromisoformat(str(document["expiration"]).replace("Z", "+00:00"))
        conditions = list(document["conditions"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: the policy is not well-formed.") from exc
    if expiration <= now:
        raise Refusal(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**lowered, "bucket": bucket}
    covered = {"bucket"}
    for condition in conditions:
        if isinstance(condition, dict):
            for name, value in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != value:
                    raise Refusal(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {name}")
        elif isinstance(condition, list) and len(condition) == 3:
            op, name, value = condition
            if op == "content-length-range":
                if not int(name) <= len(file) <= int(value):
                    code = "EntityTooLarge" if len(file) > int(value) else "EntityTooSmall"
                    raise Refusal(400, code, "Your proposed upload is outside the size range the policy allows.")
                continue
            field = str(name).lstrip("$").lower()
            covered.add(field)
            actual = values.get(field, "")
            if (op == "eq" and actual != value) or (op == "starts-with" and not actual.startswith(str(value))):
                raise Refusal(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {name}")
        else:
            raise Refusal(400, "InvalidPolicyDocument", "Invalid Policy: a condition is not well-formed.")
    extra = [n for n in lowered if n not in covered and n not in _UNCONDITIONED and not n.startswith("x-ignore-")]
    if extra:
        raise Refusal(403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {extra[0]}")


def store(root: Path, bucket: str, key: str, file: bytes) -> Stored:
    """Write the object under ``root/bucket/key`` (a key that climbs out of it is refused)."""
    base = (root / bucket).resolve()
    path = (base / key).resolve()
    if base not in path.parents:
        raise Refusal(400, "InvalidArgument", "The key is not a valid object key.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(file)
    partial.replace(path)  # an object appears whole or not at all, as in S3
    return Stored(bucket, key, len(file), hashlib.md5(file, usedforsecurity=False).hexdigest())
