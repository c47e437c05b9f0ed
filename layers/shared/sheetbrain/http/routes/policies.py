"""POST /api/ingest and /api/policies[/{id}] (the ingest function)."""

import json
import re
import uuid
from datetime import datetime
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from sheetbrain import untrusted_json
from sheetbrain.errors import BadRequestError, ValidationError
from sheetbrain.http.errors import MalformedJsonError, invalid_fields
from sheetbrain.http.models import (
    NOT_BLANK,
    NOT_BLANK_PATTERN,
    OPENAPI_EXTENSION,
    RequestModel,
    path_id,
    text_problem,
)
from sheetbrain.http.pagination import CURSOR_DESCRIPTION, CURSOR_PATTERN, decode_cursor, encode_cursor
from sheetbrain.http.resolver import authenticate, raw_body
from sheetbrain.policies import service
from sheetbrain.tenancy.identity import require_admin

router = APIGatewayHttpRouter()

# The policies table's own limits (sql/0006_policies.sql), checked before any work is done.
TITLE_MAX_CHARS = 300
CATEGORY_MAX_CHARS = 100
_Model = TypeVar("_Model", bound=BaseModel)


# A text document's content: no control characters but tab, line and page breaks (the extractor
# takes more than a few for binary data), and some character other than white space.
_CONTROL = re.compile("[\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f]")
_DOCUMENT_TEXT: dict[str, Any] = {
    "allOf": [{"pattern": "^[^\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f]*$"}, {"pattern": NOT_BLANK_PATTERN}]
}
_CONTENT = (
    "The policy's text (plain text or Markdown): some character other than white space, and no control"
    " characters but tab, line and page breaks"
)


class IngestJson(RequestModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS)
    content: str = Field(min_length=1, description=_CONTENT, json_schema_extra=_DOCUMENT_TEXT)
    category: str | None = Field(default=None, max_length=CATEGORY_MAX_CHARS)

    @field_validator("content")
    @classmethod
    def _text(cls, content: str) -> str:
        if _CONTROL.search(content):
            raise ValueError("the content holds control characters (only tab, line and page breaks are text)")
        if not NOT_BLANK.search(content):
            raise ValueError("the content is only white space")
        return content


def _check_text_upload(data: bytes) -> None:
    """A UTF-8 text upload is held to the JSON content's rule: no control characters but tab,
    line and page breaks (a PDF, a DOCX or UTF-16 text is left to the extractor)."""
    if b"%PDF" in data[:1024] or data.startswith((b"PK\x03\x04", b"\xff\xfe", b"\xfe\xff")):
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return  # binary: the extractor names what it is
    if _CONTROL.search(text):
        raise ValidationError(
            "The file is text with control characters (only tab, line and page breaks are text).",
            details={"field": "body.file"},
        )


class IngestForm(RequestModel):
    """The text fields of a multipart upload, under the same limits as the JSON body; an empty
    title falls back to the file's name."""

    title: str = Field(default="", max_length=TITLE_MAX_CHARS)
    category: str | None = Field(default=None, max_length=CATEGORY_MAX_CHARS)


class IngestOut(BaseModel):
    policy_id: uuid.UUID
    status: Literal["ready"] = "ready"
    chunks: int
    vectors_upserted: int
    duration_ms: int


class IngestAcceptedOut(BaseModel):
    policy_id: uuid.UUID
    status: Literal["processing"] = "processing"
    status_url: str = Field(description="GET it for the policy's status and progress")


class UploadRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=TITLE_MAX_CHARS)
    content_type: str = Field(min_length=1, max_length=200, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(
        ge=1,
        description="The file's size in bytes; at most MAX_UPLOAD_BYTES, a deployment setting (50 MiB by default): "
        "a larger size gets 413",
    )
    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS)
    category: str | None = Field(default=None, max_length=CATEGORY_MAX_CHARS)


class PresignedPostOut(BaseModel):
    url: str
    fields: dict[str, str] = Field(description="Form fields to send as they are, before the file (field 'file')")
    expires_at: datetime


class UploadOut(BaseModel):
    policy_id: uuid.UUID
    status: Literal["awaiting_upload"] = "awaiting_upload"
    upload: PresignedPostOut


class ProgressOut(BaseModel):
    chunks_done: int
    chunks_total: int | None


class PolicyErrorOut(BaseModel):
    code: str
    message: str


PolicyStatus = Literal["awaiting_upload", "processing", "ready", "failed"]


class PolicySummaryOut(BaseModel):
    id: uuid.UUID
    title: str
    category: str | None
    format: str
    size_bytes: int
    chunks: int
    created_at: datetime
    status: PolicyStatus


class PolicyListOut(BaseModel):
    policies: list[PolicySummaryOut]
    next_cursor: str | None


class PolicyOut(BaseModel):
    id: uuid.UUID
    title: str
    category: str | None
    format: str
    size_bytes: int
    content: str
    rules: list[dict[str, Any]] = Field(description="Clauses mapped to audit checks, with parameters")
    unmatched: list[dict[str, Any]] = Field(description="Clauses kept for retrieval and the AI review")
    profile: dict[str, Any] = Field(description="The audit profile these rules make")
    created_at: datetime
    status: PolicyStatus = Field(description="Only ready policies are searched and cited")
    progress: ProgressOut | None = Field(description="While processing: chunks embedded of those to embed")
    error: PolicyErrorOut | None = Field(description="Why it failed (also in the ingestion log)")


def _validated(model: type[_Model], data: object) -> _Model:
    """``data`` as ``model``, or a 422 naming each invalid field as the resolver's validation does."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        message, fields = invalid_fields(exc.errors(), prefix=("body",))
        raise ValidationError(message, details={"fields": fields}) from exc


def _text_field(parts: dict[str, tuple[bytes, str | None, str | None]], name: str) -> str:
    raw = parts.get(name, (b"", None, None))[0]
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ValidationError(f"The '{name}' field is not UTF-8 text.", details={"field": f"body.{name}"}) from exc
    problem = text_problem(text)
    if problem:
        raise ValidationError(f"The '{name}' field: {problem}.", details={"field": f"body.{name}"})
    return text


# The parts an upload may have: the fields the route reads. A body with more is refused before
# it is parsed: the email parser costs about 0.2 ms a part (60,000 tiny parts took 12 s).
FORM_FIELDS = ("file", "title", "category")
# A form part's headers (Content-Disposition, Content-Type) fit in far less; the parser reads
# header lines at about 5 µs each (a 5 MB block of them took 2 s).
PART_HEADERS_MAX_BYTES = 8192


def _count_parts(body: bytes, content_type: str) -> int | None:
    """The parts of a multipart body, counted from its delimiter lines without parsing it (None
    without a boundary). A delimiter line starts with "--" and the boundary, at the start of the
    body or after a line break (RFC 2046 5.1.1: the boundary never occurs inside a part); the
    last one closes the body."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_boundary()
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    lines = body.count(b"\n" + delimiter) + body.startswith(delimiter)
    return max(0, lines - 1)


def _longest_headers(body: bytes, content_type: str) -> int:
    """The size of the largest header block of a part (from its delimiter to the blank line),
    found without parsing; called once the parts are known to be few."""
    header = Message()
    header["content-type"] = content_type
    delimiter = b"--" + (header.get_boundary() or "").encode("latin-1", "replace")
    longest, at = 0, body.find(delimiter)
    while at >= 0:
        nxt = body.find(b"\n" + delimiter, at + len(delimiter))
        ends = [end for end in (body.find(b"\r\n\r\n", at), body.find(b"\n\n", at), nxt) if end >= 0]
        longest = max(longest, min(ends, default=len(body)) - at)
        at = nxt
    return longest


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[bytes, str | None, str | None]]:
    """Parts of a multipart/form-data body: name → (bytes, filename, content type)."""
    count = _count_parts(body, content_type)
    if count is not None and count > len(FORM_FIELDS):
        raise ValidationError(
            f"The multipart body has {count} parts; an upload has at most {len(FORM_FIELDS)}: "
            + ", ".join(FORM_FIELDS)
            + ".",
            details={"field": "body", "parts": count, "limit": len(FORM_FIELDS), "allowed": list(FORM_FIELDS)},
        )
    if count is not None and _longest_headers(body, content_type) > PART_HEADERS_MAX_BYTES:
        raise ValidationError(
            f"A part of the multipart body has more than {PART_HEADERS_MAX_BYTES} bytes of headers.",
            details={"field": "body", "limit_bytes": PART_HEADERS_MAX_BYTES},
        )
    try:
        message = BytesParser(policy=email_policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
    except (UnicodeError, ValueError) as exc:
        raise BadRequestError("The multipart body could not be parsed.") from exc
    if not message.is_multipart():
        raise BadRequestError("The multipart body could not be parsed (boundary missing or wrong).")
    parts: dict[str, tuple[bytes, str | None, str | None]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (
                payload if isinstance(payload, bytes) else b"",
                part.get_filename(),
                part.get_content_type() if part.get("content-type") else None,
            )
    return parts


# The route reads its body itself (JSON or multipart); this states both forms for the document.
_INGEST_BODY: dict[str, Any] = {
    "required": True,
    "description": (
        "JSON, or a multipart/form-data upload of at most the three parts below, each with at most"
        f" {PART_HEADERS_MAX_BYTES} bytes of headers (422 otherwise, before the body is parsed). A PDF or DOCX"
        " file is held to the extraction budget: past it, 422 `document_too_large` naming the budget"
    ),
    "content": {
        content_types.APPLICATION_JSON: {"schema": IngestJson.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {
                        "type": "string",
                        **_DOCUMENT_TEXT,
                        "description": (
                            "The document: text or Markdown (as stated here), or a PDF or DOCX file sent as its"
                            " bytes with its file name; its format is read from its bytes"
                        ),
                    },
                    "title": {
                        "type": "string",
                        "maxLength": TITLE_MAX_CHARS,
                        "pattern": "^[^\\x00]*$",
                        "description": "Default: the file's name",
                    },
                    "category": {"type": "string", "maxLength": CATEGORY_MAX_CHARS, "pattern": "^[^\\x00]*$"},
                },
            }
        },
    },
}


_INGEST_422 = (
    "The request is invalid (`validation_error`; `details.fields` or `details.field` names the field), or so is"
    f" the upload: more than {len(FORM_FIELDS)} multipart parts (`details.parts`, `limit`), a part with more than"
    f" {PART_HEADERS_MAX_BYTES} bytes of headers (`details.limit_bytes`), no `file` part; or the document:"
    " `unsupported_document`, `empty_document`, `corrupt_document`, or `document_too_large` past the"
    " extraction budget (`details.budget`: inflated_bytes, inflate_ratio, pages, page_operations,"
    " archive_members, characters or seconds, with `limit`)"
)


@router.post(
    "/api/ingest",
    summary="Add a policy document (admin): JSON {title, content, category} or multipart file",
    tags=["policies"],
    responses={
        201: {
            "description": "Stored and searchable within the answer's time",
            "content": {content_types.APPLICATION_JSON: {"model": IngestOut}},
        },
        202: {
            "description": "Accepted: the worker finishes it; its status_url shows progress",
            "content": {content_types.APPLICATION_JSON: {"model": IngestAcceptedOut}},
        },
    },
    openapi_extensions={OPENAPI_EXTENSION: {"requestBody": _INGEST_BODY, "errors": {"422": _INGEST_422}}},
)
def post_ingest() -> Response[str]:
    identity = authenticate(router)
    require_admin(identity)  # before reading a byte of the body: a member learns nothing more
    body = raw_body(router)
    content_type = router.current_event.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        with service.ingestion_attempt(identity, size_bytes=len(body), filename=None, content_type=media) as attempt:
            parts = _multipart(body, content_type)
            file = parts.get("file")
            if file is None:
                raise ValidationError("The multipart body has no 'file' part.", details={"field": "body.file"})
            _check_text_upload(file[0])
            filename = file[1]
            problem = text_problem(filename) if filename else None
            if problem:  # it is logged, and may become the title: it must be storable text
                raise ValidationError(f"The file's name: {problem}.", details={"field": "body.file"})
            attempt.filename = filename
            form = _validated(
                IngestForm, {"title": _text_field(parts, "title"), "category": _text_field(parts, "category") or None}
            )
            attempt.content_type = file[2] or media
            result = service.ingest(
                attempt,
                title=form.title or (filename or "Untitled policy")[:TITLE_MAX_CHARS],
                category=form.category,
                data=file[0],
                filename=filename,
            )
    else:
        with service.ingestion_attempt(identity, size_bytes=len(body), filename=None, content_type=media) as attempt:
            try:
                payload = untrusted_json.loads(body)
            except json.JSONDecodeError as exc:
                raise MalformedJsonError() from exc
            parsed = _validated(IngestJson, payload)
            attempt.content_type = "text/plain"
            result = service.ingest(
                attempt, title=parsed.title, category=parsed.category, data=parsed.content.encode(), filename=None
            )
    if result.status != "ready":
        accepted = IngestAcceptedOut(policy_id=result.policy_id, status_url=f"/api/policies/{result.policy_id}")
        return Response(
            status_code=202,
            content_type=content_types.APPLICATION_JSON,
            body=accepted.model_dump_json(),
            headers={"Location": accepted.status_url},
        )
    out = IngestOut(
        policy_id=result.policy_id,
        chunks=result.chunks,
        vectors_upserted=result.vectors_upserted,
        duration_ms=result.duration_ms,
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=out.model_dump_json())


@router.post(
    "/api/policies/uploads",
    summary="Start a presigned upload of a policy file (admin); processing starts when it lands",
    tags=["policies"],
    responses={
        201: {
            "description": "A presigned POST for the file",
            "content": {content_types.APPLICATION_JSON: {"model": UploadOut}},
        }
    },
)
def post_upload(body: UploadRequest) -> Response[str]:
    identity = authenticate(router)
    started = service.start_upload(
        identity,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
        title=body.title,
        category=body.category,
    )
    out = UploadOut(policy_id=started.policy_id, upload=PresignedPostOut(**started.upload))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=out.model_dump_json())


@router.get("/api/policies", summary="List policies (no content)", tags=["policies"])
def get_policies(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=CURSOR_DESCRIPTION)] = None,
) -> PolicyListOut:
    rows = service.list_policies(authenticate(router), limit=limit, cursor=decode_cursor(cursor))
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if len(rows) == limit else None
    return PolicyListOut(
        policies=[PolicySummaryOut(**r._asdict()) for r in rows],
        next_cursor=next_cursor,
    )


# Any id that names no policy of the caller's org, malformed or too long included, is a 404 (path_id).
_POLICY_ID = "The policy's id; one naming no policy of this organization is 404"


@router.get("/api/policies/<policy_id>", summary="One policy with its content and mapped rules", tags=["policies"])
def get_policy(policy_id: Annotated[str, Path(description=_POLICY_ID)]) -> PolicyOut:
    identity = authenticate(router)
    p = service.get_policy(identity, path_id(policy_id, "policy"))
    fields = p._asdict()
    total, done = fields.pop("chunks_total"), fields.pop("chunks_done")
    code, message = fields.pop("error_code"), fields.pop("error_message")
    return PolicyOut(
        **fields,
        progress=ProgressOut(chunks_done=done, chunks_total=total) if p.status == "processing" else None,
        error=PolicyErrorOut(code=code, message=message or "") if p.status == "failed" and code else None,
    )


@router.delete(
    "/api/policies/<policy_id>",
    summary="Delete a policy with its chunks and vectors (admin)",
    tags=["policies"],
    responses={204: {"description": "Deleted"}},
)
def delete_policy(policy_id: Annotated[str, Path(description=_POLICY_ID)]) -> Response[str]:
    identity = authenticate(router)
    service.delete_policy(identity, path_id(policy_id, "policy"))
    return Response(status_code=204, body="")
