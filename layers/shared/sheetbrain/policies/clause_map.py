"""Deterministic mapping of policy clauses to audit-engine check concepts and parameters.

Each sentence of a clause is matched against topic patterns; a topic only counts when the
sentence's polarity fits: a prohibition ("must not", "never", "prohibited", "no ...") for
things a policy forbids, a requirement ("must", "shall", "only") for positively phrased rules
("lookups must use exact match"), and plain statements for constants ("VAT is 20%"). A sentence
that only permits something ("approximate match may be used for tax bands") maps to nothing.

The concept names are stable strings; translating them to the audit engine's check ids and
``PolicyProfile`` happens where both are available, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sheetbrain.policies.concepts import (  # noqa: F401 - re-exported for callers of the mapper
    APPROXIMATE_LOOKUP,
    CONCEPTS,
    ERROR_LITERAL,
    EXTERNAL_LINK,
    FORMULA_LENGTH,
    HARDCODED_CONSTANT,
    IFERROR_MASKING,
    NESTING_DEPTH,
    PLATFORM_FUNCTION,
    UNGUARDED_DIVISION,
    VOLATILE,
    WEB_IMPORT,
    WHOLE_COLUMN_RANGE,
)

Polarity = Literal["prohibit", "require", "normative", "statement"]


@dataclass(frozen=True, slots=True)
class PolicyClause:
    """A unit of policy text to map, with the clause number it carries (if any)."""

    clause: str | None
    text: str


@dataclass(frozen=True, slots=True)
class ClauseRule:
    """One rule read from a clause: the concepts it governs and their parameters."""

    clause: str | None
    text: str
    check_tags: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "text": self.text,
            "check_tags": list(self.check_tags),
            "params": self.params,
        }


@dataclass(frozen=True, slots=True)
class ClauseMapping:
    """Rules found in a policy, plus the clauses no rule matched (kept for retrieval and AI review)."""

    rules: tuple[ClauseRule, ...]
    unmatched: tuple[PolicyClause, ...]

    def tags(self) -> frozenset[str]:
        return frozenset(tag for rule in self.rules for tag in rule.check_tags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [rule.to_dict() for rule in self.rules],
            "unmatched": [{"clause": c.clause, "text": c.text} for c in self.unmatched],
        }


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_PROHIBIT = _rx(
    r"\b(?:must|shall|should|may|can|will|do|does|are|is|to)\s+not\b|\b(?:mustn't|shouldn't|can't|cannot|"
    r"don't|won't|never|no|none|prohibited|forbidden|banned|disallowed|not\s+(?:permitted|allowed|acceptable)|"
    r"avoid(?:ed)?|eliminate[ds]?|prevent(?:ed)?|free\s+(?:of|from)|without|refrain|exclude[ds]?)\b"
)
_REQUIRE = _rx(
    r"\b(?:must|shall|should|required?|requires|always|only|need\s+to|has\s+to|have\s+to|are\s+to|is\s+to|"
    r"mandatory|ensure)\b"
)
_PERMIT = _rx(r"\b(?:may|can|permitted|allowed|acceptable|optional|fine|ok)\b")
# A sentence ends at . ! ? ; before a capital, digit or the end; "#REF! and #N/A" stays whole.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(\"'])|(?<=\u3002)|\n+")

_LOOKUP_FUNCS = r"(?:lookups?|v-?lookups?|h-?lookups?|x-?lookups?|xmatch|match(?:es|ing)?|index/match)"


@dataclass(frozen=True, slots=True)
class _Pattern:
    tags: tuple[str, ...]
    regex: re.Pattern[str]
    polarity: Polarity


_PATTERNS: tuple[_Pattern, ...] = (
    # Lookups: "must use exact match" / "approximate match is prohibited" / "range_lookup TRUE".
    _Pattern((APPROXIMATE_LOOKUP,), _rx(rf"\bexact[\s-]+match|{_LOOKUP_FUNCS}.*\bexact\b"), "require"),
    _Pattern(
        (APPROXIMATE_LOOKUP,),
        _rx(r"\b(?:approximate|fuzzy|closest|nearest)[\s-]+match|\brange[\s_-]?lookup\b|\bsorted[\s-]+lookups?\b"),
        "prohibit",
    ),
    # "No external data sources" covers both links to other files and imports from the web.
    _Pattern(
        (EXTERNAL_LINK, WEB_IMPORT),
        _rx(r"\bexternal\s+(?:data|data\s+sources?|sources?|feeds?|connections?)\b|\bthird[\s-]party\s+data\b"),
        "prohibit",
    ),
    _Pattern(
        (EXTERNAL_LINK,),
        _rx(
            r"\bexternal\s+(?:links?|references?|workbooks?|files?|spreadsheets?)\b|"
            r"\blinks?\s+(?:to|into)\s+(?:other|another|external)\s+(?:workbooks?|files?|spreadsheets?)\b|"
            r"\b(?:cross|inter)[\s-]+workbook\s+(?:links?|references?)\b|\blinked\s+workbooks?\b"
        ),
        "prohibit",
    ),
    _Pattern(
        (WEB_IMPORT,),
        _rx(
            r"\b(?:webservice|importxml|importhtml|importdata|importfeed|importrange|googlefinance|filterxml)\b|"
            r"\b(?:web|internet|online|url)[\s-]+(?:imports?|queries|query|data|sources?|feeds?|functions?)\b|"
            r"\bimport(?:ed|ing)?\b.{0,40}\b(?:from\s+the\s+(?:web|internet)|urls?|websites?)\b"
        ),
        "prohibit",
    ),
    _Pattern(
        (VOLATILE,),
        _rx(
            r"\bvolatile\s+(?:functions?|formulas?)\b|\b(?:now|today|rand|randbetween|randarray|offset|indirect)\s*\(\)?"
        ),
        "prohibit",
    ),
    _Pattern(
        (VOLATILE,),
        _rx(r"\b(?:now|today|rand|randbetween|offset|indirect)\b(?:\s*(?:,|and|or)\s*\b[a-z]+\b)*\s+(?:functions?)\b"),
        "prohibit",
    ),
    _Pattern(
        (HARDCODED_CONSTANT,),
        _rx(
            r"\bhard[\s-]*(?:coded|wired)\b|\bmagic\s+numbers?\b|\b(?:literal|embedded)\s+(?:numbers?|values?|"
            r"constants?)\s+(?:in|inside|within)\s+formulas?\b|\bconstants?\s+(?:in|inside|within)\s+formulas?\b"
        ),
        "prohibit",
    ),
    _Pattern(
        (HARDCODED_CONSTANT,),
        _rx(
            r"\b(?:assumptions?|inputs?|rates?|constants?)\b.{0,60}\b(?:input|assumptions?)\s+(?:cells?|sheets?|tabs?)\b"
        ),
        "require",
    ),
    _Pattern(
        (WHOLE_COLUMN_RANGE,),
        _rx(
            r"\b(?:whole|entire|full|complete)[\s-]+(?:columns?|rows?)(?:\s+(?:references?|ranges?))?\b|"
            r"(?<![A-Z$])\$?[A-Z]{1,3}:\$?[A-Z]{1,3}(?![A-Z0-9$])"
        ),
        "prohibit",
    ),
    _Pattern(
        (WHOLE_COLUMN_RANGE,),
        _rx(r"\branges?\b.{0,40}\b(?:bounded|explicit\s+(?:end|extent|rows?)|fixed\s+extent)\b"),
        "require",
    ),
    _Pattern((IFERROR_MASKING,), _rx(r"\bif(?:error|na)\b|\biserror\b"), "prohibit"),
    _Pattern(
        (IFERROR_MASKING,),
        _rx(
            r"\b(?:hid(?:e|ing|den)|mask(?:s|ed|ing)?|suppress(?:es|ed|ing)?|swallow(?:s|ed|ing)?|silenc\w+)\b.{0,30}\berrors?\b"
        ),
        "prohibit",
    ),
    _Pattern(
        (IFERROR_MASKING,),
        _rx(r"\berrors?\b.{0,40}\b(?:hidden|masked|suppressed|swallowed|silenced)\b"),
        "prohibit",
    ),
    _Pattern(
        (UNGUARDED_DIVISION,),
        _rx(r"#div/0!?|\bdivi(?:sion|de|ding)\s+by\s+zero\b|\bzero\s+(?:denominators?|divisors?)\b"),
        "normative",
    ),
    _Pattern(
        (UNGUARDED_DIVISION,),
        _rx(
            r"\b(?:divisions?|denominators?|divisors?)\b.{0,50}\b(?:guard(?:ed)?|check(?:ed)?|tested|protected|validated)\b"
        ),
        "require",
    ),
    _Pattern(
        (ERROR_LITERAL,),
        _rx(
            r"#(?:n/a|ref!?|value!?|name\??|num!?|null!?)(?![\w/])|\berror\s+(?:values?|literals?|codes?)\b|"
            r"\bformula\s+errors\b|\berrors?\s+in\s+(?:cells?|formulas?|the\s+workbook)\b"
        ),
        "prohibit",
    ),
    _Pattern(
        (PLATFORM_FUNCTION,),
        _rx(
            r"\b(?:platform|vendor|application|excel|sheets|google\s+sheets)[\s-]+(?:specific|only|proprietary)\s+"
            r"functions?\b|\b(?:query|arrayformula|googlefinance|googletranslate|sparkline|lambda|let)\s*\(|"
            r"\bfunctions?\b.{0,60}\b(?:both|all)\s+(?:excel|google\s+sheets|platforms)\b|"
            r"\bcompatible\s+with\s+(?:both\s+)?(?:excel|google\s+sheets|all\s+platforms)\b|\bportable\s+formulas?\b"
        ),
        "normative",
    ),
)

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
}  # fmt: skip
_NUM = r"(?P<n>\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")"
_INCLUSIVE = (
    r"(?P<op>no\s+more\s+than|not\s+more\s+than|at\s+most|up\s+to|maximum(?:\s+of)?|max(?:imum)?\.?|"
    r"not\s+exceed(?:ing)?|exceed|more\s+than|deeper\s+than|beyond|over|longer\s+than|"
    r"fewer\s+than|less\s+than|under|shorter\s+than|limit(?:ed)?\s+(?:of|to))"
)
_NESTING = (
    _rx(rf"\bnest\w*\b.{{0,40}}?{_INCLUSIVE}\s+{_NUM}\b"),
    _rx(rf"{_INCLUSIVE}\s+{_NUM}\s+(?:levels?|layers?|nested|functions?\s+deep|deep)\b.{{0,30}}"),
    _rx(rf"\b(?:nesting|nested)\s+(?:depth|levels?)\b.{{0,30}}?\b{_NUM}\b"),
)
_NESTING_TOPIC = _rx(r"\bnest\w*|\bdeep\b|\blevels?\s+of\s+(?:functions?|ifs?)")
_LENGTH = (
    _rx(rf"\bformulas?\b.{{0,60}}?{_INCLUSIVE}\s+{_NUM}\s+(?:characters?|chars?)\b"),
    _rx(
        rf"\b(?:formula\s+length|length\s+of\s+(?:a\s+|any\s+)?formulas?)\b.{{0,40}}?\b{_NUM}\s*(?:characters?|chars?)?\b"
    ),
)
_EXCLUSIVE_OPS = ("fewer than", "less than", "under", "shorter than")

# "VAT is 20%", "the corporation tax rate of 25%", "Discount rate: 7.5 per cent", "FX rate = 1.17".
_CONSTANT = _rx(
    r"(?P<name>\b[A-Za-z][A-Za-z/&\-]*(?:\s+[A-Za-z][A-Za-z/&\-]*){0,4}?)\s*"
    r"(?:\((?P<abbr>[A-Z]{2,6})\)\s*)?"
    r"(?:is|are|=|:|of|at|equals|stands\s+at|is\s+set\s+(?:at|to)|will\s+be|shall\s+be|must\s+be)\s+"
    r"(?P<value>-?\d+(?:[.,]\d+)?)\s*(?P<pct>%|percent\b|per\s+cent\b)?"
)
_CONSTANT_NAME = _rx(
    r"\b(?:rate|tax|vat|gst|hst|pst|duty|levy|fee|commission|discount|interest|inflation|markup|mark-up|"
    r"margin|insurance|contribution|royalty|tariff|surcharge|multiplier|factor|allowance|wacc|cpi)\b"
)
_COMPARATIVE = _rx(r"\b(?:than|least|most|least|over|under|above|below|exceed\w*|maximum|minimum|up\s+to)\s*$")
_ARTICLES = _rx(r"^(?:the|a|an|our|its|their|current|standard|applicable)\s+")


def map_clauses(clauses: Iterable[PolicyClause]) -> ClauseMapping:
    """Map policy clauses to check concepts; clauses with no rule go to ``unmatched``."""
    rules: list[ClauseRule] = []
    seen: set[tuple[str | None, tuple[str, ...], str]] = set()
    unmatched: list[PolicyClause] = []
    for clause in clauses:
        found = False
        for sentence in _sentences(clause.text):
            for rule in _rules_for_sentence(clause.clause, sentence):
                found = True
                key = (rule.clause, rule.check_tags, repr(sorted(rule.params.items())))
                if key not in seen:  # overlapping chunks repeat sentences
                    seen.add(key)
                    rules.append(rule)
        if not found:
            unmatched.append(clause)
    return ClauseMapping(rules=tuple(rules), unmatched=tuple(unmatched))


def map_text(text: str, clause: str | None = None) -> list[ClauseRule]:
    """Rules in one piece of policy text (convenience over ``map_clauses``)."""
    return list(map_clauses([PolicyClause(clause, text)]).rules)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s and s.strip()]


def _polarity_ok(polarity: Polarity, sentence: str) -> bool:
    prohibits = bool(_PROHIBIT.search(sentence))
    requires = bool(_REQUIRE.search(sentence))
    if polarity == "prohibit":
        return prohibits
    if polarity == "require":
        return requires and not prohibits
    if polarity == "normative":
        return prohibits or requires
    return True


def _rules_for_sentence(clause: str | None, sentence: str) -> list[ClauseRule]:
    rules: list[ClauseRule] = []
    tags: list[str] = []
    for pattern in _PATTERNS:
        if pattern.regex.search(sentence) and _polarity_ok(pattern.polarity, sentence):
            tags.extend(t for t in pattern.tags if t not in tags)
    # Rules with parameters are separate so each carries its own params.
    depth = _limit(_NESTING, sentence) if _NESTING_TOPIC.search(sentence) else None
    if depth is not None:
        rules.append(ClauseRule(clause, sentence, (NESTING_DEPTH,), {"max_depth": depth}))
    elif re.search(r"\bnest", sentence, re.IGNORECASE) and _polarity_ok("prohibit", sentence):
        tags.append(NESTING_DEPTH)
    length = _limit(_LENGTH, sentence)
    if length is not None:
        rules.append(ClauseRule(clause, sentence, (FORMULA_LENGTH,), {"max_length": length}))
    constants = _constants(sentence)
    for name, value in constants:
        rules.append(ClauseRule(clause, sentence, (HARDCODED_CONSTANT,), {"value": value, "name": name}))
    if constants and HARDCODED_CONSTANT in tags:
        tags.remove(HARDCODED_CONSTANT)
    if tags:
        rules.insert(0, ClauseRule(clause, sentence, tuple(tags), {}))
    return rules


def _to_int(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def _limit(patterns: tuple[re.Pattern[str], ...], sentence: str) -> int | None:
    """The inclusive maximum a sentence sets ("no more than 3" -> 3, "fewer than 4" -> 3)."""
    for pattern in patterns:
        match = pattern.search(sentence)
        if match is None:
            continue
        value = _to_int(match.group("n"))
        op = re.sub(r"\s+", " ", (match.groupdict().get("op") or "").lower())
        if op in _EXCLUSIVE_OPS:
            value -= 1
        elif op in (
            "more than",
            "deeper than",
            "beyond",
            "over",
            "longer than",
            "exceed",
        ) and not _PROHIBIT.search(sentence):
            continue  # "formulas deeper than 3 levels are reviewed" describes, it does not limit
        if value > 0:
            return value
    return None


def _constants(sentence: str) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    for match in _CONSTANT.finditer(sentence):
        raw_name = match.group("name").strip()
        if _COMPARATIVE.search(sentence[: match.start("value")].rstrip()):
            continue
        if re.search(r"\bnot\s*$", sentence[: match.start("value")].rstrip(), re.IGNORECASE):
            continue
        name = match.group("abbr") or _clean_name(raw_name)
        if not name or not (_CONSTANT_NAME.search(raw_name) or re.fullmatch(r"[A-Z]{2,6}", name)):
            continue
        value = float(match.group("value").replace(",", "."))
        if match.group("pct"):
            value = round(value / 100.0, 10)
        found.append((name, value))
    return found


def _clean_name(raw: str) -> str:
    words = raw.split()
    # The name is the noun phrase closest to the copula; drop leading verbs and connectives.
    for i in range(len(words) - 1, -1, -1):
        if words[i].lower() in (
            "and",
            "or",
            "but",
            "that",
            "where",
            "when",
            "if",
            "use",
            "uses",
            "apply",
            "with",
        ):
            words = words[i + 1 :]
            break
    name = " ".join(words)
    while True:
        stripped = _ARTICLES.sub("", name)
        if stripped == name:
            break
        name = stripped
    # "VAT rate" is named "VAT" (the acronym is the name); "exchange rate" keeps its "rate".
    acronym = re.fullmatch(r"(?P<acronym>[A-Z]{2,6})\s+rate", name)
    return acronym.group("acronym") if acronym else name.strip()
