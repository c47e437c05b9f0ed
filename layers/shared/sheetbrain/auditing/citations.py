"""Which policy clause governs a finding.

First the deterministic link: a clause the policy mapper tied to the concept of the finding's
check (``"lookups must use exact match"`` governs FX02). Otherwise retrieval: the check's
description searched in the org's policies (hybrid vector + full text), above a similarity
floor. One lookup per distinct check, not per finding.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from sheetbrain.db import policies_repo
from sheetbrain.policies import service as policies
from sheetbrain.policies.profiles import CHECKS_BY_CONCEPT
from sheetbrain.tenancy.identity import Identity

if TYPE_CHECKING:
    from sheetbrain.audit import Finding

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


class Citations(NamedTuple):
    by_rule: dict[str, Citation]
    rag_used: bool

    @property
    def clauses_used(self) -> int:
        return len({(c.policy_id, c.clause, c.excerpt) for c in self.by_rule.values()})


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _concepts_of(rule: str) -> set[str]:
    return {concept for concept, checks in CHECKS_BY_CONCEPT.items() if rule in checks}


def cite(
    identity: Identity,
    findings: Iterable[Finding],
    org_policies: list[policies_repo.PolicyRules],
    *,
    only_these: bool = False,
) -> Citations:
    """Citations for the distinct checks among ``findings`` from ``org_policies``: the org's
    policies, or (``only_these``) the ones the request chose, which retrieval then searches alone."""
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
    from sheetbrain.audit import CHECKS

    pending = [r for r in rules if r not in by_rule]
    searchable = any(p.searchable for p in org_policies)
    if pending and searchable:
        queries = [f"{CHECKS[r].title}. {CHECKS[r].description}" for r in pending]
        chosen = [p.id for p in org_policies] if only_these else None
        for rule, hits in zip(pending, policies.retrieve(identity, queries, k=5, policy_ids=chosen), strict=True):
            hit = next((h for h in hits if h.similarity is not None), None)
            if hit is not None:
                by_rule[rule] = Citation(hit.policy_id, hit.title, hit.clause, _excerpt(hit.text),
                                         float(hit.similarity or 0.0), "retrieval")  # fmt: skip
    return Citations(by_rule, rag_used=bool(pending and searchable) or any(c.match == "rule" for c in by_rule.values()))
