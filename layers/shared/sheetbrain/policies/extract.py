"""Text extraction from uploaded policy documents: plain text, Markdown, PDF and DOCX.

The type is decided by the bytes (magic numbers, ZIP members, UTF-8 validity), never by the
name alone: a name or declared content type only sharpens the error message when the content
disagrees. pypdf and python-docx are imported inside the functions that need them so importing
this module costs nothing at cold start.

A PDF or a DOCX is compressed, so its size says little about its cost: a 4 MB DOCX can inflate
to 4 GiB, and an 80 KB PDF can hold millions of text operators. Each is held to an
``ExtractionBudget`` before and while it is read: what its parts inflate to (in total and as a
ratio of the upload), its pages, the characters extracted and the time taken. A document beyond
any of them is refused whole (``DocumentTooLargeError``, 422 naming the budget), never cut
short: a policy that lost its last clauses to a partial extraction would be audited against
rules it does not state.
"""

from __future__ import annotations

import io
import re
import time
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from sheetbrain.errors import ValidationError

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

DocumentFormat = Literal["text", "markdown", "pdf", "docx"]

CONTENT_TYPES: dict[DocumentFormat, str] = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
# Formats people upload by mistake, named so the error can say what was received.
_KNOWN_BINARY: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls); save it as .docx"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document; save it as .docx"),
)
_MARKDOWN_HINT = re.compile(r"^(?:#{1,6}\s+\S|\s*[-*+]\s+\S|\s*```)", re.MULTILINE)
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_BLANK_RUNS = re.compile(r"\n{3,}")
# Unicode category Cc minus the whitespace controls text legitimately contains (\t \n \v \f \r).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


class DocumentError(ValidationError):
    """An uploaded document whose text cannot be extracted (mapped to 422)."""

    code = "document_invalid"


class UnsupportedDocumentError(DocumentError):
    """The content is not one of the accepted formats (text, Markdown, PDF, DOCX)."""

    code = "unsupported_document"


class EmptyDocumentError(DocumentError):
    """The document is a valid file but holds no extractable text."""

    code = "empty_document"


class CorruptDocumentError(DocumentError):
    """The content claims a format (by magic bytes, name or content type) but cannot be parsed."""

    code = "corrupt_document"


class DocumentTooLargeError(DocumentError):
    """The document is within the upload limit but would cost more than its ``ExtractionBudget``
    to read (it inflates too far, has too many pages or characters, or takes too long).

    422, not 413: the contract's 413 is for a body over the size a client can check before
    sending (``MAX_BODY_BYTES``, ``MAX_POLICY_BYTES``), and this body is within it; what is
    refused is the file's content, so the details name the field and the budget."""

    code = "document_too_large"


_MIB = 1024 * 1024
# Below this, what a document inflates to is not compared with its own size: a small
# file of repetitive XML legitimately compresses far better than 100 to 1, and costs nothing.
_RATIO_FLOOR_BYTES = _MIB


@dataclass(frozen=True, slots=True)
class ExtractionBudget:
    """What reading one PDF or DOCX may cost; the defaults are the ingest function's.

    ``inflated_bytes`` and ``inflate_ratio`` bound what the document's compressed parts expand
    to (a DOCX's ZIP members, a PDF's streams), in total and against the upload's size (checked
    above 1 MiB), before they are read. ``pages`` is checked before any page is read;
    ``page_operations`` bounds the tokens parsed from one PDF content stream (pypdf's
    per-stream parsing budget); ``characters`` the text extracted; ``seconds`` the wall time,
    checked between pages, paragraphs and PDF operators. The time budget keeps a refusal within
    the ingest route's 2 s answer (a 100-page PDF extracts in about 0.35 s here).
    """

    inflated_bytes: int = 32 * _MIB
    inflate_ratio: int = 100
    pages: int = 1_000
    page_operations: int = 100_000
    characters: int = 5 * _MIB
    seconds: float = 1.5
    archive_members: int = 1_000

    def stream_limit(self, upload_bytes: int) -> int:
        """The most one compressed part of an upload of ``upload_bytes`` may inflate to."""
        return min(self.inflated_bytes, max(_RATIO_FLOOR_BYTES, self.inflate_ratio * upload_bytes))


class _Meter:
    """Charges one extraction against its budget; refusals name the budget that was exceeded."""

    def __init__(self, budget: ExtractionBudget, fmt: str, details: dict[str, Any]) -> None:
        self.budget = budget
        self.fmt = fmt
        self.details = details
        self.deadline = time.monotonic() + budget.seconds
        self.characters = 0

    def refuse(self, budget: str, limit: float, message: str, **more: Any) -> NoReturn:
        raise DocumentTooLargeError(
            message, details={**self.details, "field": "body.file", "budget": budget, "limit": limit, **more}
        )

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            self.refuse(
                "seconds",
                self.budget.seconds,
                f"Extracting the text of this {self.fmt.upper()} takes longer than its "
                f"{self.budget.seconds:g} s budget; split the document or save it as plain text.",
            )

    def check_inflated(self, inflated: int, upload_bytes: int) -> None:
        """``inflated`` bytes expanded so far from an upload of ``upload_bytes``."""
        if inflated > self.budget.inflated_bytes:
            self.refuse(
                "inflated_bytes",
                self.budget.inflated_bytes,
                f"The {self.fmt.upper()} expands to more than {self.budget.inflated_bytes} bytes when "
                "decompressed; it cannot be read safely.",
                inflated_bytes=inflated,
            )
        if inflated > _RATIO_FLOOR_BYTES and inflated > self.budget.inflate_ratio * upload_bytes:
            self.refuse(
                "inflate_ratio",
                self.budget.inflate_ratio,
                f"The {self.fmt.upper()} expands to more than {self.budget.inflate_ratio} times its own size "
                "when decompressed; it cannot be read safely.",
                inflated_bytes=inflated,
            )

    def add_text(self, text: str) -> None:
        self.characters += len(text)
        if self.characters > self.budget.characters:
            self.refuse(
                "characters",
                self.budget.characters,
                f"The {self.fmt.upper()} holds more than {self.budget.characters} characters of text.",
            )


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """Text pulled out of an upload, with the format detected from its content."""

    text: str
    format: DocumentFormat
    content_type: str
    page_count: int | None = None

    @property
    def char_count(self) -> int:
        return len(self.text)


def extract_text(
    data: bytes,
    filename: str | None,
    declared_content_type: str | None,
    budget: ExtractionBudget | None = None,
) -> ExtractedDocument:
    """Detect the document's format from its bytes and extract its text within ``budget``.

    Raises ``EmptyDocumentError``, ``UnsupportedDocumentError``, ``CorruptDocumentError`` or
    ``DocumentTooLargeError`` (all ``ValidationError``, 422) with a message an uploader can act on.
    """
    budget = budget or ExtractionBudget()
    claimed = _claimed_format(filename, declared_content_type)
    details: dict[str, Any] = {
        "filename": filename,
        "declared_content_type": declared_content_type,
        "size": len(data),
    }
    if not data.strip():
        raise EmptyDocumentError("The uploaded file is empty.", details=details)

    if _PDF_MAGIC in data[:1024]:
        # The PDF spec tolerates bytes before the header; readers look in the first 1 KiB.
        text, pages = _extract_pdf(data, _Meter(budget, "pdf", details))
        return _finish(text, "pdf", details, page_count=pages)
    if data.startswith(_ZIP_MAGIC):
        return _finish(_extract_docx(data, _Meter(budget, "docx", details)), "docx", details)
    for magic, what in _KNOWN_BINARY:
        if data.startswith(magic):
            raise UnsupportedDocumentError(
                f"The file is {what}, not a supported document (text, Markdown, PDF or DOCX).",
                details=details,
            )

    decoded = _decode_text(data)
    if decoded is None:
        if claimed in ("pdf", "docx"):
            raise CorruptDocumentError(
                f"The file is named or declared as {claimed.upper()} but is not a readable {claimed.upper()} document.",
                details=details,
            )
        raise UnsupportedDocumentError(
            "The file is binary data, not UTF-8 text, Markdown, PDF or DOCX"
            + (" (its name says text, but its content does not)." if claimed in ("text", "markdown") else "."),
            details=details,
        )
    if claimed in ("pdf", "docx"):
        raise CorruptDocumentError(
            f"The file is named or declared as {claimed.upper()} but contains plain text; "
            "upload it as .txt or .md, or upload the real document.",
            details=details,
        )
    fmt: DocumentFormat = "markdown" if claimed == "markdown" or _looks_like_markdown(decoded) else "text"
    return _finish(decoded, fmt, details)


def _claimed_format(filename: str | None, content_type: str | None) -> DocumentFormat | None:
    name = (filename or "").lower()
    ctype = (content_type or "").split(";")[0].strip().lower()
    if name.endswith(".pdf") or ctype == "application/pdf":
        return "pdf"
    if name.endswith(".docx") or ctype == CONTENT_TYPES["docx"]:
        return "docx"
    if name.endswith((".md", ".markdown")) or ctype in ("text/markdown", "text/x-markdown"):
        return "markdown"
    if name.endswith(".txt") or ctype == "text/plain":
        return "text"
    return None


def _decode_text(data: bytes) -> str | None:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16 text, or None if the bytes look binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        if b"\x00" in data:
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    # Valid UTF-8 can still be binary (e.g. control-heavy formats); real documents have at most
    # a stray form feed or escape, so more than 1% control characters means "not text".
    controls = len(_CONTROL_CHARS.findall(text))
    if controls > max(2, len(text) // 100):
        return None
    return text


def _looks_like_markdown(text: str) -> bool:
    return len(_MARKDOWN_HINT.findall(text[:20000])) >= 2


def _normalise(text: str) -> str:
    # NFC so that a composed and a decomposed accent (or kana voicing mark) search the same.
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\x00", "").replace("\f", "\n")
    # Per line rather than with a regex: "[ \t]+\n" restarts at every blank of a long run that
    # ends in text, quadratic in the run (60,000 blanks took seconds).
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _finish(
    text: str, fmt: DocumentFormat, details: dict[str, Any], *, page_count: int | None = None
) -> ExtractedDocument:
    text = _normalise(text)
    if not text:
        hint = " It may be a scanned image; run OCR first." if fmt == "pdf" else ""
        raise EmptyDocumentError(f"The {fmt.upper()} document contains no extractable text.{hint}", details=details)
    return ExtractedDocument(text=text, format=fmt, content_type=CONTENT_TYPES[fmt], page_count=page_count)


# pypdf's limits on what one stream may decode to (pypdf.Configuration, 75 MB each by default).
_PYPDF_OUTPUT_LIMITS = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "array_based_stream_maximum_output_length",
    "image_maximum_buffer_size",
    "xmp_maximum_input_length",
)


def _extract_pdf(data: bytes, meter: _Meter) -> tuple[str, int]:
    from pypdf import PdfReader, apply_configuration, get_configuration
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadWarning, PyPdfError

    details, budget = meter.details, meter.budget
    # pypdf's own safety limits, tightened to this upload: no stream inflates past what the
    # whole document may (its decoders stop there), and no content stream parses past
    # ``page_operations`` tokens (2,000,000 by default: 41 s of parsing for an 80 KB upload).
    per_stream = budget.stream_limit(len(data))
    configuration = get_configuration().with_overwrites(
        **dict.fromkeys(_PYPDF_OUTPUT_LIMITS, per_stream),
        stream_decoding_work_maximum_length=4 * per_stream,
        stream_parsing_work_maximum_count=budget.page_operations,
    )
    phase, number = "structure", 0
    with warnings.catch_warnings(), apply_configuration(configuration):
        # Malformed-but-readable PDFs make pypdf warn; recovering is the point, not a failure.
        warnings.simplefilter("ignore", PdfReadWarning)
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnsupportedDocumentError("The PDF is password-protected.", details=details)
            pages = reader.pages
            if len(pages) > budget.pages:
                meter.refuse(
                    "pages", budget.pages, f"The PDF has {len(pages)} pages; at most {budget.pages} can be read."
                )
            texts: list[str] = []
            inflated = 0
            for page in pages:
                number += 1
                meter.check_time()
                # The page's content is inflated (and kept: pypdf caches it for the extraction
                # below) and charged before a single operator of it is parsed.
                phase = "contents"
                contents = page.get_contents()
                inflated += len(contents.get_data()) if contents is not None else 0
                meter.check_inflated(inflated, len(data))
                phase = "page"
                text = page.extract_text(visitor_operand_before=lambda *_: meter.check_time()) or ""
                meter.add_text(text)
                texts.append(text)
        except (FileNotDecryptedError, DependencyError) as exc:
            raise UnsupportedDocumentError("The PDF is encrypted and cannot be read.", details=details) from exc
        except LimitReachedError:
            _refuse_pdf_limit(meter, phase, number, per_stream)
        except DocumentError:
            raise
        # pypdf signals damage with its own errors (PyPdfError is their base) but also with
        # low-level ones from the parser.
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
            raise CorruptDocumentError(
                "The PDF is damaged or truncated and its text cannot be read.", details=details
            ) from exc
    return "\n\n".join(texts), len(texts)


def _refuse_pdf_limit(meter: _Meter, phase: str, page: int, per_stream: int) -> NoReturn:
    """One of pypdf's limits (as ``_extract_pdf`` set them) was reached: named by where it was,
    not by pypdf's message text."""
    budget = meter.budget
    if phase == "contents":  # only decoding happens there: a stream inflated past its limit
        name, limit = ("inflated_bytes", budget.inflated_bytes)
        if per_stream < budget.inflated_bytes:
            name, limit = ("inflate_ratio", budget.inflate_ratio)
        meter.refuse(
            name,
            limit,
            f"Page {page} of the PDF holds a compressed stream that expands past {per_stream} bytes "
            "(too large to expand safely); its text cannot be read.",
            page=page,
        )
    if phase == "page":
        meter.refuse(
            "page_operations",
            budget.page_operations,
            f"Page {page} of the PDF holds more drawing and text operations than can be read "
            f"({budget.page_operations} per content stream) or resources too large to expand safely.",
            page=page,
        )
    meter.refuse(
        "structure",
        per_stream,
        "The PDF's structure is beyond the limits it can be read within (too large to expand safely).",
    )


def _extract_docx(data: bytes, meter: _Meter) -> str:
    details, budget = meter.details, meter.budget
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDocumentError(
            "The file is a damaged ZIP archive (a DOCX is a ZIP); it cannot be read.", details=details
        ) from exc
    names = {member.filename for member in members}
    if "word/document.xml" not in names:
        kind = "an Excel workbook" if "xl/workbook.xml" in names else "a ZIP archive"
        if "ppt/presentation.xml" in names:
            kind = "a PowerPoint presentation"
        raise UnsupportedDocumentError(
            f"The file is {kind}, not a supported document (text, Markdown, PDF or DOCX).", details=details
        )
    # Bounded before python-docx reads a byte: it loads every part whole. The sizes are the
    # archive's own claims, which zipfile holds each member to (it stops at the declared size
    # and then fails the CRC); only deflate's decoder stops mid-chunk, so the other methods,
    # which Word never writes, are refused.
    if len(members) > budget.archive_members:
        meter.refuse(
            "archive_members",
            budget.archive_members,
            f"The DOCX holds {len(members)} parts; at most {budget.archive_members} can be read.",
        )
    if any(member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for member in members):
        raise CorruptDocumentError(
            "The DOCX uses a compression method Word does not write; save it again from Word.", details=details
        )
    meter.check_inflated(sum(member.file_size for member in members), len(data))

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        return _docx_to_text(document, meter)
    # lxml's XMLSyntaxError is a SyntaxError; catching the builtin avoids importing lxml here.
    # Well-formed XML without the parts python-docx expects (no w:body) fails on attributes.
    except (SyntaxError, zipfile.BadZipFile, KeyError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise CorruptDocumentError("The DOCX document is damaged and cannot be read.", details=details) from exc


def _docx_to_text(document: DocxDocument, meter: _Meter) -> str:
    """Paragraphs and tables in document order; Heading N styles become Markdown ``#`` lines."""
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        meter.check_time()
        if isinstance(block, Table):
            for row in block.rows:
                meter.check_time()
                cells = [cell.text.strip() for cell in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
                    meter.add_text(lines[-1])
            lines.append("")
            continue
        text = block.text.strip()
        meter.add_text(text)
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        match = _HEADING_STYLE.match(style)
        if match:
            lines.append(f"{'#' * max(1, min(6, int(match.group(1))))} {text}")
        elif style.lower() == "title":
            lines.append(f"# {text}")
        elif style.lower().startswith("list"):
            lines.append(f"- {text}")
        else:
            lines.append(text)
        lines.append("")
    return "\n".join(lines)
