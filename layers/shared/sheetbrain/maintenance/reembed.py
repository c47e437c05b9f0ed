"""The ``reembed`` task: vectors made by another embedding model than the configured one are
made again, so changing the model (local MiniLM → Bedrock Titan, or a new Titan dimension)
re-embeds every policy. Until a chunk is done, full-text search still finds it."""

from __future__ import annotations

from typing import Any

from sheetbrain.db import policies_repo, system_transaction
from sheetbrain.maintenance.batches import BatchClock
from sheetbrain.observability import metrics
from sheetbrain.policies.chunking import embedding_input
from sheetbrain.policies.service import embedder

BATCH = 128


def reembed() -> dict[str, Any]:
    """Re-embed stale chunks in batches: read, embed outside any transaction, write back."""
    model = embedder()
    clock = BatchClock()
    updated = 0
    while not clock.spent():
        with system_transaction() as conn:
            stale = policies_repo.stale_chunks(conn, model=model.model, limit=BATCH)
        if not stale:
            break
        vectors = model.embed([embedding_input(c.heading, c.text) for c in stale])
        with clock.batch(), system_transaction() as conn:
            updated += policies_repo.set_embeddings(
                conn,
                model=model.model,
                dim=model.dimension,
                vectors=[(c.id, v) for c, v in zip(stale, vectors, strict=True)],
            )
    metrics.add_metric(name="Task.reembed.Chunks", unit="Count", value=updated)
    return {"model": model.model, "chunks_reembedded": updated, "incomplete": clock.spent(), **clock.summary()}
