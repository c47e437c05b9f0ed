"""Text extraction: formats detected by content, clear 422 errors, non-Latin scripts intact."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from sheetbrain.errors import ValidationError
from sheetbrain.policies.extract import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    UnsupportedDocumentError,
    extract_text,
)

MakePdf = Callable[[list[list[str]]], bytes]
MakeDocx = Callable[[list[tuple[str, str]]], bytes]

JAPANESE = "# 表計算ポリシー\n\n3.2 検索\n検索は完全一致を使用しなければならない。外部リンクは禁止する。\n"
ARABIC = "سياسة جداول البيانات\n\n3.1 يجب أن تستخدم عمليات البحث المطابقة التامة.\n"
GREEK = "Πολιτική υπολογιστικών φύλλων\n\n4.1 Οι εξωτερικοί σύνδεσμοι απαγορεύονται.\n"  # noqa: RUF001 - Greek on purpose


def test_plain_text_is_extracted_and_normalised() -> None:
    # Given a UTF-8 text policy with Windows line endings and a BOM
    data = "\ufeffSpreadsheet policy\r\n\r\n\r\n\r\n3.1 Lookups must use exact match.  \r\n".encode()

    # When it is extracted
    doc = extract_text(data, "policy.txt", "text/plain")

    # Then the BOM, CRs, trailing spaces and blank runs are gone
    assert doc.format == "text"
    assert doc.content_type == "text/plain"
    assert doc.text == "Spreadsheet policy\n\n3.1 Lookups must use exact match."
    assert doc.char_count == len(doc.text)


def test_markdown_is_recognised_by_name_and_by_content() -> None:
    # Given Markdown content, once named .md and once with no name at all
    data = b"# Policy\n\n## Lookups\n\n- exact match only\n"

    # When both are extracted
    named = extract_text(data, "policy.md", None)
    unnamed = extract_text(data, None, None)

    # Then both are Markdown
    assert named.format == "markdown"
    assert unnamed.format == "markdown"
    assert named.content_type == "text/markdown"


def test_pdf_text_is_extracted_from_every_page(make_pdf: MakePdf) -> None:
    # Given a real two-page PDF with a text layer
    data = make_pdf([["3.2 Lookups must use exact match (never approximate).", "3.3 No external links."], ["4 Review"]])

    # When it is extracted, even under a misleading name and content type
    doc = extract_text(data, "upload.bin", "application/octet-stream")

    # Then the PDF is detected by its magic bytes and all pages' text is returned
    assert doc.format == "pdf"
    assert doc.page_count == 2
    assert "3.2 Lookups must use exact match (never approximate)." in doc.text
    assert doc.text.endswith("4 Review")


def test_pdf_without_a_text_layer_is_empty() -> None:
    # Given a valid PDF with only a blank page (like a scan without OCR)
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)

    # When it is extracted, Then it is refused as empty with an OCR hint
    with pytest.raises(EmptyDocumentError, match="OCR"):
        extract_text(out.getvalue(), "scan.pdf", "application/pdf")


@pytest.mark.parametrize("damage", ["garbage_body", "truncated"])
def test_corrupt_pdf_is_refused(make_pdf: MakePdf, damage: str) -> None:
    # Given a PDF header followed by garbage, or a real PDF cut short
    good = make_pdf([["Lookups must use exact match."]])
    data = b"%PDF-1.7\n" + bytes(range(256)) * 8 if damage == "garbage_body" else good[: len(good) // 2]

    # When it is extracted, Then a corrupt-document error says so
    with pytest.raises(CorruptDocumentError, match="PDF is damaged"):
        extract_text(data, "policy.pdf", "application/pdf")


def test_docx_keeps_heading_structure_lists_and_tables(make_docx: MakeDocx) -> None:
    # Given a real DOCX with Heading 1/2 styles, a bullet, a paragraph and a table
    data = make_docx(
        [
            ("heading1", "Data handling"),
            ("heading2", "3.2 Lookups"),
            ("para", "Lookups must use exact match."),
            ("bullet", "OFFSET is prohibited."),
            ("table", "Rate|Value\nVAT|20%"),
        ]
    )

    # When it is extracted
    doc = extract_text(data, "policy.docx", None)

    # Then headings become Markdown lines the chunker understands
    assert doc.format == "docx"
    lines = doc.text.splitlines()
    assert "# Data handling" in lines
    assert "## 3.2 Lookups" in lines
    assert "- OFFSET is prohibited." in lines
    assert "VAT | 20%" in lines


def test_zip_that_is_not_a_word_document_is_unsupported() -> None:
    # Given an XLSX-like ZIP renamed .docx
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")

    # When it is extracted, Then the error names what it really is
    with pytest.raises(UnsupportedDocumentError, match="Excel workbook"):
        extract_text(out.getvalue(), "policy.docx", None)


def test_docx_with_broken_xml_is_corrupt(make_docx: MakeDocx) -> None:
    # Given a DOCX whose document.xml was damaged
    good = make_docx([("para", "Lookups must use exact match.")])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b"<w:document><broken" if item.filename == "word/document.xml" else data)

    # When it is extracted, Then it is refused as corrupt
    with pytest.raises(CorruptDocumentError, match="DOCX"):
        extract_text(out.getvalue(), "policy.docx", None)


def test_docx_without_a_body_is_corrupt(make_docx: MakeDocx) -> None:
    # Given a DOCX whose document.xml is well-formed but holds no w:body
    good = make_docx([("para", "Lookups must use exact match.")])
    empty = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, empty if item.filename == "word/document.xml" else src.read(item.filename))

    # When it is extracted, Then it is refused as corrupt, not a crash
    with pytest.raises(CorruptDocumentError, match="DOCX"):
        extract_text(out.getvalue(), "policy.docx", None)


def test_pdf_stream_inflating_past_the_limit_is_refused() -> None:
    # Given a PDF whose page (with a font, so pypdf reads its content for text) is a ~80 KB
    # deflate stream that expands past pypdf's inflate limit (75 MB)
    import zlib

    from pypdf import get_configuration

    packer = zlib.compressobj(9)
    block = b" " * 1_000_000
    blocks = get_configuration().zlib_maximum_output_length // len(block) + 5
    bomb = b"".join(packer.compress(block) for _ in range(blocks)) + packer.flush()
    font = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents 4 0 R >>" % font,
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
    ]
    body = b"%PDF-1.7\n"
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)

    # When it is extracted, Then a clear refusal, not a crash and not the whole stream in memory:
    # the stream stops inflating at 100 times the upload's size
    with pytest.raises(DocumentTooLargeError, match="too large to expand"):
        extract_text(body, "bomb.pdf", "application/pdf")


def test_truncated_zip_is_corrupt(make_docx: MakeDocx) -> None:
    # Given a DOCX cut in half (the ZIP central directory is lost)
    good = make_docx([("para", "Lookups must use exact match.")])

    # When it is extracted, Then it is refused as corrupt
    with pytest.raises(CorruptDocumentError, match="damaged ZIP"):
        extract_text(good[: len(good) // 2], "policy.docx", None)


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_empty_file_is_refused(data: bytes) -> None:
    # Given an empty or whitespace-only upload
    # When it is extracted, Then an empty-document error is raised
    with pytest.raises(EmptyDocumentError, match="empty"):
        extract_text(data, "policy.txt", "text/plain")


def test_binary_file_renamed_txt_is_refused() -> None:
    # Given random-looking binary bytes named policy.txt and declared text/plain
    data = bytes((i * 37 + 11) % 256 for i in range(4096))

    # When it is extracted, Then it is refused because the content is not text
    with pytest.raises(UnsupportedDocumentError, match="binary data") as caught:
        extract_text(data, "policy.txt", "text/plain")
    assert "its name says text" in caught.value.message


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "legacy Office"),
    ],
)
def test_known_binary_formats_are_named_in_the_error(data: bytes, what: str) -> None:
    # Given a known non-document format renamed .txt
    # When it is extracted, Then the error says what was received
    with pytest.raises(UnsupportedDocumentError, match=what):
        extract_text(data, "policy.txt", None)


def test_utf8_text_with_control_bytes_is_refused() -> None:
    # Given bytes that decode as UTF-8 but are mostly control characters
    data = bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 50

    # When it is extracted, Then it is refused as binary
    with pytest.raises(UnsupportedDocumentError):
        extract_text(data, "notes.txt", None)


def test_legacy_encoded_text_is_refused_with_a_clear_message() -> None:
    # Given Latin-1 text (not valid UTF-8)
    data = "Politique: la TVA est de 20 % — référence".encode("latin-1", errors="replace")

    # When it is extracted, Then it is refused as not UTF-8
    with pytest.raises(UnsupportedDocumentError, match="UTF-8"):
        extract_text(data, "politique.txt", None)


def test_text_named_pdf_is_refused_as_a_mismatch() -> None:
    # Given plain text uploaded as a PDF
    # When it is extracted, Then the mismatch is reported as a corrupt PDF
    with pytest.raises(CorruptDocumentError, match="contains plain text"):
        extract_text(b"Lookups must use exact match.", "policy.pdf", "application/pdf")


@pytest.mark.parametrize("text", [JAPANESE, ARABIC, GREEK], ids=["japanese", "arabic", "greek"])
def test_non_latin_text_documents_round_trip(text: str) -> None:
    # Given a UTF-8 policy in a non-Latin script
    # When it is extracted
    doc = extract_text(text.encode(), "policy.txt", None)

    # Then every character survives
    assert doc.text == text.strip()


def test_utf16_text_with_bom_is_decoded() -> None:
    # Given a UTF-16 file as Windows editors save it
    # When it is extracted, Then it is read as text
    assert extract_text(GREEK.encode("utf-16"), "policy.txt", None).text == GREEK.strip()


def test_non_latin_docx_round_trips(make_docx: MakeDocx) -> None:
    # Given a Japanese DOCX with a heading
    data = make_docx([("heading1", "表計算ポリシー"), ("para", "検索は完全一致を使用しなければならない。")])

    # When it is extracted, Then the heading and body are intact
    doc = extract_text(data, "ポリシー.docx", None)
    assert doc.text.splitlines()[0] == "# 表計算ポリシー"
    assert "検索は完全一致を使用しなければならない。" in doc.text


def test_every_extraction_error_is_a_422_validation_error() -> None:
    # Given each extraction error class
    # Then each maps to 422 through the ValidationError base with its own code
    codes = set()
    for cls in (UnsupportedDocumentError, EmptyDocumentError, CorruptDocumentError):
        error = cls("message")
        assert isinstance(error, ValidationError)
        assert error.status == 422
        codes.add(error.code)
    assert codes == {"unsupported_document", "empty_document", "corrupt_document"}
