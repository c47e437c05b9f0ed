"""Which policy clause governs a finding.

First the deterministic link: a clause the policy mapper tied to the concept of the finding's
check (``"lookups must use exact match"`` governs FX02). Otherwise retrieval: the check's
description searched in the org's policies (hybrid vector + full text), above a similarity
floor. One lookup per distinct check, not per finding, and its answer is remembered for the
org until its policies change (sql/0012): a check's description is fixed, so what it finds
changes with the org's corpus. (The vector index is shared by all orgs and filtered after its
scan, so another org's data can change a small org's nearest neighbours a little; the answer
remembered is the one the audit that searched got.)
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from sheetbrain.config import get_settings
from sheetbrain.db import policies_repo
from sheetbrain.policies import service as policies
from sheetbrain.policies.profiles import CHECKS_BY_CONCEPT
from sheetbrain.tenancy.identity import Identity

if TYPE_CHECKING:
    from sheetbrain.engine import Finding

EXCERPT_CHARS = 300


class Citation(NamedTuple):
    policy_id: uuid.UUID
    title: str
    clause: str | None
    excerpt: str
    score: float
    match: str  # "rule" (deterministic) or "retrieval"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": str(self.policy_id),
            "title": self.title,
            "clause": self.clause,
            "excerpt": self.excerpt,
            "score": round(self.score, 3),
            "match": self.match,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Self:
        return cls(uuid.UUID(stored["policy_id"]), stored["title"], stored["clause"], stored["excerpt"],
                   float(stored["score"]), stored["match"])  # fmt: skip


# Retrieval's answer for one check: (rule, query key, citation or None), to be remembered.
Found = tuple[str, str, dict[str, Any] | None]


class Citations(NamedTuple):
    by_rule: dict[str, Citation]
    rag_used: bool
    # Answers searched for, not remembered: the caller stores them with the audit.
    found: Sequence[Found] = ()

    @property
    def clauses_used(self) -> int:
        return len({(c.policy_id, c.clause, c.excerpt) for c in self.by_rule.values()})


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _concepts_of(rule: str) -> set[str]:
    return {concept for concept, checks in CHECKS_BY_CONCEPT.items() if rule in checks}


# Hits retrieved per check; the citation is the best one with a vector similarity.
SEARCH_K = 5
# Names how a citation is chosen from the hits and excerpted: change it when that changes, and
# every remembered citation is searched again.
_CHOICE = "best-with-similarity-1"


def _query_key(query: str) -> str:
    """A digest of what an answer depends on besides the org's corpus (the query, the embedder,
    the similarity floor, the search, how a hit is chosen and excerpted), so a remembered answer
    is used only where the same search would run."""
    settings = get_settings()
    basis = "|".join(
        (_CHOICE, str(EXCERPT_CHARS), str(SEARCH_K), policies_repo.SEARCH_VERSION, settings.embedder,
         str(settings.retrieval_min_similarity), query)
    )  # fmt: skip
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def cite(
    identity: Identity,
    findings: "Iterable[Finding]",
    org_policies: list[policies_repo.PolicyRules],
    *,
    only_these: bool = False,
    remembered: policies_repo.CitationCache | None = None,
) -> Citations:
    """Citations for the distinct checks among ``findings`` from ``org_policies``: the org's
    policies, or (``only_these``) the ones the request chose, which retrieval then searches alone.
    Retrieval's answers come from ``remembered`` where it has them (not for chosen policies);
    those searched instead are returned in ``found``."""
    rules = sorted({f.rule for f in findings})
    if not rules or not org_policies:
        return Citations({}, rag_used=False)
    by_rule: dict[str, Citation] = {}
    for rule in rules:
        concepts = _concepts_of(rule)
        for policy in org_policies:
            mapped = next((r for r in policy.rules if concepts & set(r.get("check_tags", []))), None)
            if mapped is not None:
                by_rule[rule] = Citation(policy.id, policy.title, mapped.get("clause"), _excerpt(mapped["text"]), 1.0,
                                         "rule")  # fmt: skip
                break
    from sheetbrain.engine import CHECKS

    pending = [r for r in rules if r not in by_rule]
    searchable = any(p.searchable for p in org_policies)
    found: list[Found] = []
    if pending and searchable:
        queries = {r: f"{CHECKS[r].title}. {CHECKS[r].description}" for r in pending}
        keys = {r: _query_key(q) for r, q in queries.items()}
        cache = None if only_these else remembered
        entries = cache.entries if cache is not None else {}
        known = {r: entries[r][1] for r in pending if r in entries and entries[r][0] == keys[r]}
        by_rule.update({r: Citation.from_dict(stored) for r, stored in known.items() if stored is not None})
        unknown = [r for r in pending if r not in known]
        chosen = [p.id for p in org_policies] if only_these else None
        hits_by_rule = policies.retrieve(identity, [queries[r] for r in unknown], k=SEARCH_K, policy_ids=chosen)
        for rule, hits in zip(unknown, hits_by_rule, strict=True):
            hit = next((h for h in hits if h.similarity is not None), None)
            if hit is not None:
                by_rule[rule] = Citation(hit.policy_id, hit.title, hit.clause, _excerpt(hit.text),
                                         float(hit.similarity or 0.0), "retrieval")  # fmt: skip
            if cache is not None:
                found.append((rule, keys[rule], by_rule[rule].to_dict() if hit is not None else None))
    rag_used = bool(pending and searchable) or any(c.match == "rule" for c in by_rule.values())
    return Citations(by_rule, rag_used=rag_used, found=found)
