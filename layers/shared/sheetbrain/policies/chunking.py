"""Structure-following chunking of policy text.

The text is read line by line into blocks (headings, numbered clauses, lettered sub-items, list
items, paragraphs). Chunks never cross a heading or a numbered clause, so every chunk can cite
one clause ("3.2") under one heading path; consecutive blocks of the same clause are packed up
to the size target, and a block larger than the target is split at sentence (then word)
boundaries with an overlap so a requirement cut in two still appears whole in one chunk.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

# Every pattern here is matched once per line and runs in time linear in the line: no two
# quantifiers may compete for the same characters. The heading's closing "#"s and blanks are
# cut in Python, since "(.+?)[ \t#]*$" rescans the rest of the line for every character of the
# title (a heading of 60,000 blanks took 11 s).
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")
# Clause numbers go eight levels deep at most ("1.2.3.4.5.6.7.8"): the heading path holds a
# level per depth, so a document of ever deeper numbers would otherwise carry a path that
# grows with every line into every chunk.
_CLAUSE_NUMBER = r"\d{1,3}(?:\.\d{1,3}){0,7}"
# "3.2 Lookups", "3.2.1. Text", "Section 4: Data", "Clause 7 - Links", "Article 2", "§ 5 Scope".
_NUMBERED = re.compile(
    r"^(?P<kw>(?:section|clause|article|part|§)\s*)?"
    rf"(?P<num>{_CLAUSE_NUMBER})(?P<dot>[.)])?(?:\s*[:\-\u2013\u2014])?[ \t]+(?P<rest>\S.*)$",
    re.IGNORECASE,
)
_KEYWORD_ONLY = re.compile(rf"^(?:section|clause|article|part|§)\s*(?P<num>{_CLAUSE_NUMBER})\.?$", re.IGNORECASE)
# "(a) ...", "a) ...", "(iv) ...", "(2) ...": sub-items of the current clause.
_SUB_ITEM = re.compile(r"^\((?P<a>[a-z]|[ivx]{1,5}|\d{1,2})\)[ \t]+\S|^(?P<b>[a-z])\)[ \t]+\S")
_BULLET = re.compile(r"^(?:[-*+\u2022\u25aa\u2013])[ \t]+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]]*\s+|(?<=[\u3002\uff01\uff1f])")
_WORD = re.compile(r"\S+")
_WORD_START = re.compile(r"\s\S")
_HEADING_MAX_CHARS = 90
# A heading's title in the path is cut to this: every chunk under a heading carries the whole
# path, so one long Markdown heading would otherwise be copied into thousands of chunks.
_PATH_TITLE_MAX_CHARS = 200

LengthFn = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a policy document with the structure it sits in.

    ``start``/``end`` are character offsets into the text given to ``chunk_text`` so that
    ``text == source[start:end]``.
    """

    ordinal: int
    text: str
    clause: str | None
    heading_path: tuple[str, ...]
    start: int
    end: int

    def context_text(self) -> str:
        """What to embed for the chunk (see ``embedding_input``)."""
        return embedding_input(" > ".join(self.heading_path), self.text)


def embedding_input(heading: str, text: str) -> str:
    """What is embedded for a chunk: its heading path (joined by " > ", as stored) over its
    text, so headings inform retrieval. Ingest and re-embedding must give the same input."""
    return f"{heading}\n{text}" if heading else text


@dataclass(slots=True)
class _Block:
    start: int
    end: int
    clause: str | None
    path: tuple[str, ...]
    kind: str  # "heading" | "clause" | "sub" | "item" | "para"


def chunk_text(
    text: str,
    *,
    target_size: int = 1000,
    overlap: int = 150,
    length: LengthFn = len,
) -> list[Chunk]:
    """Split ``text`` into structure-following chunks of about ``target_size`` units.

    ``length`` measures a string in the unit of ``target_size`` and ``overlap``: characters by
    default, or tokens when given a tokenizer's counting function.
    """
    if target_size <= 0:
        raise ValueError("target_size must be positive")
    if not 0 <= overlap < target_size:
        raise ValueError("overlap must be at least 0 and below target_size")
    blocks = _blocks(text)
    chunks: list[Chunk] = []

    def emit(start: int, end: int, clause: str | None, path: tuple[str, ...]) -> None:
        start, end = _trim(text, start, end)
        if start < end:
            chunks.append(Chunk(len(chunks), text[start:end], clause, path, start, end))

    group: list[_Block] = []
    has_body = False  # the group holds a block other than a heading

    def flush() -> None:
        nonlocal has_body
        if not group:
            return
        first = group[0]
        # A group opened by headings alone takes its clause from the first body block.
        body = next((b for b in group if b.kind != "heading"), first)
        clause, path = body.clause, body.path
        start, end = first.start, group[-1].end
        if length(text[start:end]) <= target_size:
            emit(start, end, clause, path)
        else:
            # Pieces go forward, so the block each starts in is found by bisection (a long run
            # of headings makes a group of thousands of blocks).
            starts = [b.start for b in group]
            for piece_start, piece_end in _split_oversized(text, group, target_size, overlap, length):
                covering = group[max(0, bisect.bisect_right(starts, piece_start) - 1)]
                piece_clause = clause if covering.kind == "heading" else covering.clause
                emit(piece_start, piece_end, piece_clause, path)
        group.clear()
        has_body = False

    for block in blocks:
        # Headings wait for their first body block; a heading or numbered clause otherwise starts
        # a new chunk, and so does a body block that would overflow the target.
        if has_body and (block.kind in ("heading", "clause") or length(text[group[0].start : block.end]) > target_size):
            flush()
        group.append(block)
        has_body = has_body or block.kind != "heading"
    flush()
    return chunks


def _blocks(text: str) -> list[_Block]:
    """Classify lines into blocks, tracking the heading path and the current clause."""
    blocks: list[_Block] = []
    headings: list[tuple[int, str]] = []  # (level, title); numbered headings sit below Markdown ones
    clause: str | None = None
    current: _Block | None = None
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        stripped = line.strip()
        if not stripped:
            current = None
            continue
        path = tuple(title for _, title in headings)
        md = _MD_HEADING.match(stripped)
        numbered = _NUMBERED.match(stripped)
        keyword_only = _KEYWORD_ONLY.match(stripped)
        if md:
            rest = md.group(2)
            level, title = len(md.group(1)), _path_title(rest.rstrip(" \t#") or rest[:1])
            inner = _NUMBERED.match(title)
            clause = inner.group("num") if inner and _is_clause_number(inner) else None
            headings = [h for h in headings if h[0] < level] + [(level, title)]
            blocks.append(_Block(line_start, pos, clause, tuple(t for _, t in headings), "heading"))
            current = None
            continue
        clause_match = keyword_only or (numbered if numbered and _is_clause_number(numbered) else None)
        if clause_match is not None:
            num = clause_match.group("num")
            clause = num
            if keyword_only or (numbered and _is_heading_text(numbered.group("rest"))):
                level = 10 + num.count(".")
                headings = [h for h in headings if h[0] < level] + [(level, _path_title(stripped))]
                blocks.append(_Block(line_start, pos, clause, tuple(t for _, t in headings), "heading"))
                current = None
            else:
                headings = [h for h in headings if h[0] < 10 + num.count(".")]
                current = _Block(line_start, pos, clause, tuple(t for _, t in headings), "clause")
                blocks.append(current)
            continue
        sub = _SUB_ITEM.match(stripped)
        if sub:
            label = sub.group("a") or sub.group("b")
            base = clause.split("(")[0] if clause else ""
            current = _Block(line_start, pos, f"{base}({label})", path, "sub")
            blocks.append(current)
            continue
        if _BULLET.match(stripped):
            current = _Block(line_start, pos, clause, path, "item")
            blocks.append(current)
            continue
        if current is not None and current.kind != "heading":
            current.end = pos  # a wrapped line continues its paragraph, clause or item
            continue
        current = _Block(line_start, pos, clause, path, "para")
        blocks.append(current)
    return blocks


def _path_title(title: str) -> str:
    """A heading as the path shows it: blanks collapsed, at most ``_PATH_TITLE_MAX_CHARS``."""
    return " ".join(title.split())[:_PATH_TITLE_MAX_CHARS]


def _is_clause_number(match: re.Match[str]) -> bool:
    """Tell a clause number from a sentence that merely starts with a number ("20 staff ...")."""
    num = match.group("num")
    if match.group("kw") or "." in num or match.group("dot"):
        return True
    # A bare "4 Data handling" is a heading only if it reads like one.
    return _is_heading_text(match.group("rest")) and match.group("rest")[:1].isupper()


def _is_heading_text(rest: str) -> bool:
    return len(rest) <= _HEADING_MAX_CHARS and not rest.rstrip().endswith((".", ";", ":", ",", "?", "!"))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_oversized(
    text: str, group: list[_Block], target: int, overlap: int, length: LengthFn
) -> list[tuple[int, int]]:
    """Cut a too-long span into pieces of at most ``target`` at sentence, then word, boundaries."""
    start, end = group[0].start, group[-1].end
    cuts = _boundaries(text, start, end)
    pieces: list[tuple[int, int]] = []
    piece_start = start
    while piece_start < end:
        piece_end = _furthest_fit(text, piece_start, end, cuts, target, length)
        pieces.append((piece_start, piece_end))
        if piece_end >= end:
            break
        next_start = _overlap_start(text, piece_start, piece_end, cuts, overlap, length)
        piece_start = next_start if next_start > piece_start else piece_end
    return pieces


def _boundaries(text: str, start: int, end: int) -> list[int]:
    """Offsets where a piece may end: block ends, sentence ends and (as a fallback) word ends."""
    span = text[start:end]
    cuts = {start + m.end() for m in _SENTENCE_END.finditer(span)}
    cuts.update(start + m.start() for m in re.finditer(r"\n", span))
    return [*sorted(c for c in cuts if start < c < end), end]


def _furthest_fit(text: str, start: int, end: int, cuts: list[int], target: int, length: LengthFn) -> int:
    """The end of the longest piece from ``start`` that fits ``target``: at a sentence or block
    end if one fits, else at a word end, else a hard cut.

    Only a window just past the target is ever measured (see ``_horizon``), so a piece costs
    about its own size however far away the next cut is: long text without punctuation (an
    unbroken CJK run) would otherwise be re-measured to its end for every piece.
    """
    horizon: int | None = None
    best = None
    too_far = end
    for i in range(bisect.bisect_right(cuts, start), len(cuts)):
        cut = cuts[i]
        if horizon is None and cut - start > target + 1:
            horizon = _horizon(text, start, end, target, length)
        if (horizon is not None and cut > horizon) or length(text[start:cut]) > target:
            too_far = cut
            break
        best = cut
    if best is not None:
        return best
    # No sentence fits: fall back to the last word end before the first cut that was too far,
    # then to a hard cut inside an overlong "word" (e.g. a URL or unbroken CJK run). Past the
    # horizon nothing fits, so the search stops there.
    if horizon is None:
        horizon = _horizon(text, start, end, target, length)
    limit = min(too_far, horizon)
    word_ends = [m.end() for m in _WORD.finditer(text, start, limit)]
    fitting = _leading(word_ends, lambda cut: length(text[start:cut]) <= target)
    if fitting:
        return word_ends[fitting - 1]
    lo_cut, hi_cut = start + 1, limit
    while lo_cut < hi_cut:  # binary search: length is monotonic in the prefix
        mid = (lo_cut + hi_cut + 1) // 2
        if length(text[start:mid]) <= target:
            lo_cut = mid
        else:
            hi_cut = mid - 1
    return max(lo_cut, start + 1)


def _horizon(text: str, start: int, end: int, target: int, length: LengthFn) -> int:
    """An offset whose piece from ``start`` is already over ``target`` (or ``end``), found by
    doubling a window from ``target + 1`` characters: at most about twice the piece is measured."""
    size = target + 1
    while start + size < end:
        if length(text[start : start + size]) > target:
            return start + size
        size *= 2
    return end


def _leading(offsets: list[int], holds: Callable[[int], bool]) -> int:
    """How many of ``offsets`` hold, given that those that do are a prefix (binary search)."""
    lo, hi = 0, len(offsets)
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(offsets[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _overlap_start(text: str, start: int, end: int, cuts: list[int], overlap: int, length: LengthFn) -> int:
    """Where the next piece starts: the earliest sentence (or word) start within ``overlap``."""
    if overlap <= 0:
        return end

    def too_long(cut: int) -> bool:  # true for a prefix of the starts: a later one leaves less
        return length(text[cut:end]) > overlap

    inner = cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]
    skipped = _leading(inner, too_long)
    if skipped < len(inner):
        return inner[skipped]
    word_starts = [m.start() + 1 for m in _WORD_START.finditer(text, start, end)]
    skipped = _leading(word_starts, too_long)
    return word_starts[skipped] if skipped < len(word_starts) else end
