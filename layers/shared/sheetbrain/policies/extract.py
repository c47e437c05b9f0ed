"""Text extraction from uploaded policy documents: plain text, Markdown, PDF and DOCX.

The type is decided by the bytes (magic numbers, ZIP members, UTF-8 validity), never by the
name alone: a name or declared content type only sharpens the error message when the content
disagrees. pypdf and python-docx are imported inside the functions that need them so importing
this module costs nothing at cold start.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
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


def extract_text(data: bytes, filename: str | None, declared_content_type: str | None) -> ExtractedDocument:
    """Detect the document's format from its bytes and extract its text.

    Raises ``EmptyDocumentError``, ``UnsupportedDocumentError`` or ``CorruptDocumentError``
    (all ``ValidationError``, 422) with a message an uploader can act on.
    """
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
        text, pages = _extract_pdf(data, details)
        return _finish(text, "pdf", details, page_count=pages)
    if data.startswith(_ZIP_MAGIC):
        return _finish(_extract_docx(data, details), "docx", details)
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
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _finish(
    text: str, fmt: DocumentFormat, details: dict[str, Any], *, page_count: int | None = None
) -> ExtractedDocument:
    text = _normalise(text)
    if not text:
        hint = " It may be a scanned image; run OCR first." if fmt == "pdf" else ""
        raise EmptyDocumentError(f"The {fmt.upper()} document contains no extractable text.{hint}", details=details)
    return ExtractedDocument(text=text, format=fmt, content_type=CONTENT_TYPES[fmt], page_count=page_count)


def _extract_pdf(data: bytes, details: dict[str, Any]) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadWarning, PyPdfError

    with warnings.catch_warnings():
        # Malformed-but-readable PDFs make pypdf warn; recovering is the point, not a failure.
        warnings.simplefilter("ignore", PdfReadWarning)
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnsupportedDocumentError("The PDF is password-protected.", details=details)
            pages = [page.extract_text() or "" for page in reader.pages]
        except (FileNotDecryptedError, DependencyError) as exc:
            raise UnsupportedDocumentError("The PDF is encrypted and cannot be read.", details=details) from exc
        except LimitReachedError as exc:  # a stream that inflates past pypdf's safety limit
            raise CorruptDocumentError(
                "The PDF holds a compressed stream too large to expand safely; its text cannot be read.",
                details=details,
            ) from exc
        except DocumentError:
            raise
        # pypdf signals damage with its own errors (PyPdfError is their base) but also with
        # low-level ones from the parser.
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
            raise CorruptDocumentError(
                "The PDF is damaged or truncated and its text cannot be read.", details=details
            ) from exc
    return "\n\n".join(pages), len(pages)


def _extract_docx(data: bytes, details: dict[str, Any]) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptDocumentError(
            "The file is a damaged ZIP archive (a DOCX is a ZIP); it cannot be read.", details=details
        ) from exc
    if "word/document.xml" not in names:
        kind = "an Excel workbook" if "xl/workbook.xml" in names else "a ZIP archive"
        if "ppt/presentation.xml" in names:
            kind = "a PowerPoint presentation"
        raise UnsupportedDocumentError(
            f"The file is {kind}, not a supported document (text, Markdown, PDF or DOCX).", details=details
        )

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        return _docx_to_text(document)
    # lxml's XMLSyntaxError is a SyntaxError; catching the builtin avoids importing lxml here.
    # Well-formed XML without the parts python-docx expects (no w:body) fails on attributes.
    except (SyntaxError, zipfile.BadZipFile, KeyError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise CorruptDocumentError("The DOCX document is damaged and cannot be read.", details=details) from exc


def _docx_to_text(document: DocxDocument) -> str:
    """Paragraphs and tables in document order; Heading N styles become Markdown ``#`` lines."""
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
            lines.append("")
            continue
        text = block.text.strip()
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
