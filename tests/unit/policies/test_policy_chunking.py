"""Structure-following chunking: clauses, heading paths, offsets, size target and overlap."""

from __future__ import annotations

import itertools
import random

import pytest
from sheetbrain.policies.chunking import Chunk, chunk_text

POLICY = """# Spreadsheet Control Policy

## Data handling

3.1 Scope
This section applies to all finance workbooks.

3.2 Lookups
Lookups must use exact match. Approximate match is prohibited.
(a) VLOOKUP must pass FALSE as its last argument.
(b) XLOOKUP must use match mode 0.

3.3 External links must not be used in reporting workbooks.

Section 4: Volatile functions
- NOW() and TODAY() must not drive reported figures.
- OFFSET and INDIRECT are prohibited.

20 staff members maintain these workbooks.
"""


def by_clause(chunks: list[Chunk]) -> dict[str | None, Chunk]:
    return {c.clause: c for c in chunks}


def test_chunks_follow_numbered_clauses_and_headings() -> None:
    # Given a policy with Markdown headings, numbered clauses, sub-items and a "Section N" heading
    # When it is chunked with a generous target
    chunks = chunk_text(POLICY, target_size=400, overlap=50)

    # Then each clause is its own chunk carrying its number and heading path
    clauses = by_clause(chunks)
    assert list(clauses) == ["3.1", "3.2", "3.3", "4"]
    assert clauses["3.2"].heading_path == ("Spreadsheet Control Policy", "Data handling", "3.2 Lookups")
    assert clauses["3.2"].text.startswith("3.2 Lookups\nLookups must use exact match.")
    assert "(b) XLOOKUP" in clauses["3.2"].text
    assert clauses["3.3"].heading_path == ("Spreadsheet Control Policy", "Data handling")
    assert clauses["4"].heading_path[-1] == "Section 4: Volatile functions"
    # A sentence that merely starts with a number is not clause 20
    assert "20 staff members" in clauses["4"].text


def test_leading_headings_join_their_first_clause() -> None:
    # Given headings with no body of their own before clause 3.1
    # When it is chunked
    first = chunk_text(POLICY, target_size=400)[0]

    # Then they open the first chunk instead of forming empty ones
    assert first.text.startswith("# Spreadsheet Control Policy\n\n## Data handling\n\n3.1 Scope")
    assert first.clause == "3.1"


def test_offsets_slice_the_source_exactly() -> None:
    # Given any chunking of the policy
    chunks = chunk_text(POLICY, target_size=120, overlap=30)

    # Then every chunk is exactly its slice of the source, ordinals count up
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert POLICY[chunk.start : chunk.end] == chunk.text


def test_sub_items_get_their_own_clause_when_a_clause_is_split() -> None:
    # Given a small target that cannot hold clause 3.2 whole
    # When it is chunked
    chunks = chunk_text(POLICY, target_size=80, overlap=0)

    # Then pieces starting at a lettered sub-item cite it
    clauses = [c.clause for c in chunks]
    assert "3.2(a)" in clauses
    assert "3.2(b)" in clauses


def test_oversized_paragraph_is_split_at_sentences_with_overlap() -> None:
    # Given one clause with many sentences, far larger than the target
    sentences = [f"Rule {i} requires the reviewer to check every lookup in sheet {i}." for i in range(40)]
    text = "5.1 " + " ".join(sentences)

    # When it is chunked
    chunks = chunk_text(text, target_size=300, overlap=80)

    # Then every piece fits, keeps the clause, ends on a sentence, and overlaps the next one
    assert len(chunks) > 5
    for chunk, following in itertools.pairwise(chunks):
        assert len(chunk.text) <= 300
        assert chunk.clause == "5.1"
        assert chunk.text.endswith(".")
        assert following.start < chunk.end  # overlap
        assert chunk.end - following.start <= 80
    assert chunks[-1].text.endswith("sheet 39.")


def test_no_overlap_across_clause_boundaries() -> None:
    # Given separate clauses
    chunks = chunk_text(POLICY, target_size=400, overlap=100)

    # Then no chunk begins inside the previous one
    for chunk, following in itertools.pairwise(chunks):
        assert following.start >= chunk.end


def test_word_and_hard_cuts_for_text_without_sentences() -> None:
    # Given a run without punctuation and one unbroken token longer than the target
    words = "lookup " * 200
    token = "x" * 500

    # When they are chunked
    word_chunks = chunk_text(words, target_size=100, overlap=0)
    hard_chunks = chunk_text(token, target_size=100, overlap=0)

    # Then pieces end on word boundaries, or are hard cut at the target
    assert all(c.text.endswith("lookup") and len(c.text) <= 100 for c in word_chunks)
    assert [len(c.text) for c in hard_chunks] == [100] * 5


def test_size_can_be_measured_in_tokens() -> None:
    # Given a length function counting whitespace tokens
    text = "7.1 " + " ".join(f"Sentence number {i} is here." for i in range(60))

    # When chunked with a 40-token target
    chunks = chunk_text(text, target_size=40, overlap=5, length=lambda s: len(s.split()))

    # Then each chunk holds at most 40 tokens
    assert all(len(c.text.split()) <= 40 for c in chunks)
    assert len(chunks) >= 6


def test_japanese_text_is_split_at_ideographic_full_stops() -> None:
    # Given a Japanese clause with no spaces, longer than the target
    text = "3.2 検索\n" + "検索は完全一致を使用しなければならない。" * 20

    # When it is chunked
    chunks = chunk_text(text, target_size=100, overlap=20)

    # Then it splits after 。 and keeps the clause and heading
    assert len(chunks) > 3
    assert all(c.clause == "3.2" for c in chunks)
    assert all(c.heading_path == ("3.2 検索",) for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)


def test_markdown_heading_with_number_sets_the_clause_and_context_text() -> None:
    # Given Markdown headings that carry clause numbers
    text = "# Policy\n\n## 2.4 Ranges\n\nRanges must be bounded.\n\n## Appendix\n\nGlossary text.\n"

    # When it is chunked
    chunks = chunk_text(text)

    # Then the clause comes from the heading and resets under an unnumbered one
    assert [(c.clause, c.heading_path) for c in chunks] == [
        ("2.4", ("Policy", "2.4 Ranges")),
        (None, ("Policy", "Appendix")),
    ]
    assert chunks[0].context_text().startswith("Policy > 2.4 Ranges\n# Policy")


def test_blank_text_gives_no_chunks_and_bad_options_are_refused() -> None:
    # Given blank text, Then there are no chunks
    assert chunk_text("  \n\n ") == []
    # Given nonsensical sizes, Then they are refused
    with pytest.raises(ValueError, match="target_size"):
        chunk_text("x", target_size=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("x", target_size=10, overlap=10)


def test_one_megabyte_document_is_chunked_within_the_target() -> None:
    # Given a ~1 MB policy of sections, numbered clauses and long paragraphs
    rng = random.Random(7)
    words = [
        "lookups",
        "must",
        "use",
        "exact",
        "match",
        "external",
        "links",
        "volatile",
        "formulas",
        "reviewed",
        "controller",
    ]
    parts: list[str] = []
    section = 0
    while sum(len(p) for p in parts) < 1_000_000:
        section += 1
        parts.append(f"## {section} Section {section}\n\n")
        for clause in range(1, 6):
            sentence_count = rng.randint(1, 30)
            body = " ".join(" ".join(rng.choices(words, k=12)) + "." for _ in range(sentence_count))
            parts.append(f"{section}.{clause} {body}\n\n")
    text = "".join(parts)

    # When it is chunked
    chunks = chunk_text(text, target_size=1000, overlap=150)

    # Then every chunk respects the target and slices the source, and every clause is cited
    assert max(len(c.text) for c in chunks) <= 1000
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert {c.clause for c in chunks} >= {"1.1", f"{section}.5"}


@pytest.mark.parametrize("run", ["検索は完全一致を使用しなければならない", "lookup "], ids=["cjk", "words"])
def test_long_text_without_sentence_ends_is_measured_a_bounded_number_of_times(run: str) -> None:
    # Given ~200k characters with no sentence end or line break (an unbroken CJK run; bare words)
    text = run * (200_000 // len(run))
    measured = 0

    def counting_len(piece: str) -> int:
        nonlocal measured
        measured += len(piece)
        return len(piece)

    # When it is chunked, counting the characters the length function is given
    chunks = chunk_text(text, target_size=1000, overlap=150, length=counting_len)

    # Then each character is measured a few times, not once per piece (re-measuring the rest of
    # the text for every piece is quadratic: ~300 times here, growing with the length)
    assert measured <= 20 * len(text)
    # And the pieces still fit the target and cover the text in order
    assert all(len(c.text) <= 1000 and text[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    assert all(following.start <= chunk.end for chunk, following in itertools.pairwise(chunks))


def test_a_long_run_of_headings_is_chunked_under_its_headings() -> None:
    # Given a document of 20,000 headings and no body text
    text = "".join(f"# Heading {i}\n" for i in range(20_000))

    # When it is chunked
    chunks = chunk_text(text, target_size=1000, overlap=150)

    # Then the headings are cut into pieces that fit, in order, covering every heading
    assert all(len(c.text) <= 1000 and text[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].text.startswith("# Heading 0\n") and chunks[-1].text.endswith("# Heading 19999")
    assert all(following.start <= chunk.end for chunk, following in itertools.pairwise(chunks))
