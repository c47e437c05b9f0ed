"""Hostile documents: bombs and dense content are refused by a named budget, before or while
they are read, and text of any shape is normalised and chunked in time linear in its size."""

from __future__ import annotations

import pytest
from sheetbrain.policies.chunking import chunk_text
from sheetbrain.policies.extract import DocumentTooLargeError, ExtractionBudget, extract_text

from tests.unit.policies.conftest import (
    build_docx,
    build_docx_bomb,
    build_pdf,
    build_pdf_with_content,
    dense_text_operators,
)

MIB = 1024 * 1024


def refusal(data: bytes, filename: str, budget: ExtractionBudget | None = None) -> dict[str, object]:
    with pytest.raises(DocumentTooLargeError) as caught:
        extract_text(data, filename, None, budget)
    assert caught.value.status == 422 and caught.value.code == "document_too_large"
    return caught.value.details


def test_a_docx_inflating_past_the_budget_is_refused_before_it_is_read() -> None:
    # Given a 100 KB DOCX whose document part inflates to 64 MiB (over the 32 MiB budget)
    bomb = build_docx_bomb(64 * MIB)
    assert len(bomb) < 110_000

    # When it is extracted, Then it is refused by the inflated-size budget, naming the field
    details = refusal(bomb, "policy.docx")
    assert (details["field"], details["budget"], details["limit"]) == ("body.file", "inflated_bytes", 32 * MIB)
    assert int(str(details["inflated_bytes"])) > 64 * MIB


def test_a_docx_inflating_more_than_the_ratio_is_refused() -> None:
    # Given a DOCX of about 46 KB that inflates to 8 MiB: under the size budget, over 100 to 1
    bomb = build_docx_bomb(8 * MIB)

    # When it is extracted, Then the ratio budget refuses it
    details = refusal(bomb, "policy.docx")
    assert (details["budget"], details["limit"]) == ("inflate_ratio", 100)


def test_a_docx_over_the_character_budget_is_refused() -> None:
    # Given a DOCX of 30 paragraphs of 100 characters and a budget of 1,000 characters
    docx = build_docx([("para", "x" * 100)] * 30)

    # When it is extracted, Then the character budget refuses it
    details = refusal(docx, "policy.docx", ExtractionBudget(characters=1_000))
    assert (details["budget"], details["limit"]) == ("characters", 1_000)


def test_an_80_kb_pdf_of_two_million_compressed_text_operators_is_refused_by_its_ratio() -> None:
    # Given a PDF of about 60 KB whose one content stream inflates to 14 MB of text operators
    pdf = build_pdf_with_content([dense_text_operators(2_000_000)], compress=True)
    assert len(pdf) < 80_000

    # When it is extracted, Then the stream stops inflating at 100 times the upload's size
    details = refusal(pdf, "dense.pdf")
    assert (details["budget"], details["limit"], details["page"]) == ("inflate_ratio", 100, 1)


def test_a_pdf_page_of_more_operations_than_the_budget_is_refused() -> None:
    # Given an uncompressed 1.05 MB PDF page of 150,000 text operators (300,000 tokens)
    pdf = build_pdf_with_content([dense_text_operators(150_000)], compress=False)

    # When it is extracted, Then the per-page operations budget (100,000 tokens) refuses it
    details = refusal(pdf, "dense.pdf")
    assert (details["budget"], details["limit"], details["page"]) == ("page_operations", 100_000, 1)


def test_a_pdf_with_more_pages_than_the_budget_is_refused_before_any_page_is_read() -> None:
    pdf = build_pdf([["1. Lookups must use exact match."]] * 3)
    details = refusal(pdf, "policy.pdf", ExtractionBudget(pages=2))
    assert (details["budget"], details["limit"]) == ("pages", 2)


def test_a_pdf_over_the_character_budget_is_refused() -> None:
    pdf = build_pdf([["x" * 80] * 10] * 3)
    details = refusal(pdf, "policy.pdf", ExtractionBudget(characters=1_000))
    assert (details["budget"], details["limit"]) == ("characters", 1_000)


@pytest.mark.parametrize("make", [lambda: build_pdf([["1. Lookups."]]), lambda: build_docx([("para", "Lookups.")])])
def test_the_time_budget_is_checked_while_reading(make: object) -> None:
    # Given a budget whose time is spent before the first page or paragraph
    data = make()  # type: ignore[operator]
    name = "policy.pdf" if data.startswith(b"%PDF") else "policy.docx"

    # When the document is extracted, Then it is refused by the time budget
    details = refusal(data, name, ExtractionBudget(seconds=0.0))
    assert (details["budget"], details["limit"]) == ("seconds", 0.0)


def test_a_pdf_within_every_budget_is_read_whole() -> None:
    # Given 40 pages of 50 lines (a long policy), When extracted, Then every line is there
    pdf = build_pdf([[f"{p}.{n} Lookups must use exact match." for n in range(1, 51)] for p in range(1, 41)])
    document = extract_text(pdf, "policy.pdf", None)
    assert document.page_count == 40 and document.text.count("Lookups must use exact match.") == 2_000


def test_a_heading_of_60000_blanks_is_chunked_with_its_blanks_collapsed() -> None:
    # Given a Markdown heading whose title holds 60,000 blanks (11.5 s to chunk before), over a clause
    text = "# Data" + " " * 60_000 + "rules\n1.1 Lookups must use exact match.\n"

    # When it is extracted and chunked
    document = extract_text(text.encode(), "policy.md", None)
    chunks = chunk_text(document.text)

    # Then the heading (cut into pieces that fit) and its clause show the title with its blanks
    # collapsed in their path
    assert {c.heading_path for c in chunks} == {("Data rules",)}
    assert chunks[-1].clause == "1.1" and chunks[-1].text.endswith("rules\n1.1 Lookups must use exact match.")


def test_a_long_heading_is_cut_in_the_path_that_every_chunk_carries() -> None:
    # Given a 100,000-character heading over 300 clauses
    title = "Rules " * 20_000
    text = f"## {title}\n" + "".join(f"{n}.1 Lookups must use exact match in workbook {n}.\n" for n in range(1, 301))

    # When it is chunked
    chunks = chunk_text(text)

    # Then each chunk's path holds the title cut to 200 characters, and every clause is there
    assert {c.heading_path for c in chunks} == {(title[:200],)}
    assert {c.clause for c in chunks} == {f"{n}.1" for n in range(1, 301)}


def test_clause_numbers_deeper_than_eight_levels_are_paragraphs() -> None:
    # Given numbers of nine levels and of eight
    chunks = chunk_text("1.2.3.4.5.6.7.8.9 Too deep to be a clause.\n\n1.2.3.4.5.6.7.8 Deep but a clause.\n")

    # Then only the second opens a clause
    assert [c.clause for c in chunks] == [None, "1.2.3.4.5.6.7.8"]
