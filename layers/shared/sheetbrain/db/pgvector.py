"""pgvector's text form of a vector: the one place that writes it."""

from __future__ import annotations

from collections.abc import Sequence


def vector_literal(vector: Sequence[float]) -> str:
    """A vector as pgvector's text form (7 significant digits, as policy_chunks stores them)."""
    return "[" + ",".join(f"{v:.7g}" for v in vector) + "]"
