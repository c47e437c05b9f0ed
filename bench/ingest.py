"""Ingest time of a ~1 MB policy document and hybrid-search latency over 10,000 chunks.

(1) A ~1 MB policy is generated from the clauses of ``bench/retrieval_data`` (renumbered, with
clauses combined and their subjects varied so that no two chunks are alike) and sent to POST
/api/ingest (its answer timed: a 202, target under 1 s); its queued job is then run by the worker,
first with the Bedrock embedder against a stub client (50 ms a call, ThrottlingException past
``--bedrock-rate`` calls a second; target: ready under 60 s, issue 16), then with the local
model; each run's time is split into extract / chunk and map / embed / writes.
(2) 10,000 chunks of real-looking text (the clauses again, renumbered)
are stored for one org, their vectors taken from a few hundred real embeddings plus a little
noise; ``send_hybrid_search`` is then timed for the queries of ``retrieval_data/queries.json``, each
in its own tenant transaction as ``service.retrieve`` runs it. Targets (issue 6): ingest under
30 s; retrieval under 20 ms.

    .venv/bin/python bench/ingest.py [--size-mb 1.0] [--bedrock-rate 150] [--skip-ingest] [--skip-search]
                                     [--max-seq-length 256] [--chunks 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from _harness import bench_database, call, percentiles
from botocore.exceptions import ClientError
from sheetbrain.config import get_settings
from sheetbrain.db import policies_repo, system_transaction, tenant_transaction, work_queue_repo
from sheetbrain.db.pgvector import vector_literal
from sheetbrain.policies import pipeline, worker
from sheetbrain.policies.chunking import chunk_text
from sheetbrain.policies.embedding import BedrockTitanEmbedder, LocalMiniLMEmbedder
from sheetbrain.policies.work_queue import INGEST_QUEUE
from sheetbrain.tenancy.identity import Identity
from sheetbrain_dev import auth
from sheetbrain_dev.database import drop_database

DATA = Path(__file__).parent / "retrieval_data"
SUBJECTS = [
    "key spreadsheets", "the revenue forecast", "the payroll workbook", "the cash-flow model", "the board pack",
    "the budget template", "the commission calculator", "the fixed-asset register", "the VAT return workings",
    "the bank reconciliation", "the capital model", "the pricing tool", "the treasury dashboard",
]  # fmt: skip
TOPICS = [
    "Lookups", "External data", "Constants and inputs", "Error handling", "Calculation integrity", "Structure",
    "Review", "Tax", "Models", "Security", "Records", "Personal data", "Reference data", "Automation",
]  # fmt: skip
_LEADING_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*|\([a-z]\))\s+")


def source_clauses() -> list[str]:
    """The body text of every clause of the evaluation documents, without its number."""
    clauses = []
    for path in sorted(DATA.iterdir()):
        if path.suffix in (".md", ".txt"):
            for chunk in chunk_text(path.read_text(encoding="utf-8")):
                if chunk.clause is not None:
                    for line in chunk.text.split("\n\n"):
                        text = _LEADING_NUMBER.sub("", " ".join(line.split()))
                        if len(text) > 60 and not text.startswith("#"):
                            clauses.append(text)
    return clauses


def vary(text: str, rng: random.Random) -> str:
    """The clause about another subject, so repeated clauses still read (and embed) differently."""
    subject = rng.choice(SUBJECTS)
    for generic in ("key spreadsheets", "a key spreadsheet", "spreadsheets", "workbooks", "a workbook", "models"):
        if generic in text:
            return text.replace(generic, subject, 1)
    return f"{text} This applies in particular to {subject}."


def generate_policy(target_bytes: int, seed: int = 11) -> str:
    """Markdown sections of numbered clauses (some combined, some with lettered items), ~target_bytes."""
    rng = random.Random(seed)
    pool = source_clauses()
    parts = ["# Group Finance Policy Manual\n\n"]
    size, section = len(parts[0].encode()), 0
    while size < target_bytes:
        section += 1
        block = [f"## {section} {rng.choice(TOPICS)}\n\n"]
        for clause in range(1, rng.randint(3, 9)):
            body = " ".join(vary(rng.choice(pool), rng) for _ in range(rng.choice((1, 1, 2, 3))))
            block.append(f"{section}.{clause} {body}\n")
            if rng.random() < 0.25:
                block.extend(f"({letter}) {vary(rng.choice(pool), rng)}\n" for letter in "abc"[: rng.randint(1, 3)])
            block.append("\n")
        text = "".join(block)
        parts.append(text)
        size += len(text.encode())
    return "".join(parts)


def provision(owner_url: str, org: str) -> dict[str, str]:
    """An org and its admin, created through the API, allowed any number of policies."""
    claims = auth.claims_for(f"user_{org}", org, "org:admin")
    status, _ = call("GET", "/api/policies", claims=claims)
    assert status == 200, status
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO entitlement_overrides (org_id, feature, value, reason) VALUES (%s, 'policies', -1, 'bench')",
            (org,),
        )
    return claims


class StubBedrock:
    """A bedrock-runtime client standing in for Titan v2: ``latency_s`` per call, and a
    ``ThrottlingException`` (as botocore raises it) for a call past ``rate`` calls a second
    (a token bucket of one second's burst), after a short network delay."""

    def __init__(self, *, latency_s: float = 0.05, rate: float = 150.0) -> None:
        self.latency_s, self.rate = latency_s, rate
        self.tokens, self.at = rate, time.monotonic()
        self.lock = threading.Lock()
        self.calls = self.throttled = 0

    def invoke_model(self, *, modelId: str, body: str, contentType: str, accept: str) -> dict[str, Any]:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
            self.at = now
            self.calls += 1
            allowed = self.tokens >= 1
            if allowed:
                self.tokens -= 1
            else:
                self.throttled += 1
        if not allowed:
            time.sleep(0.005)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Too many requests"}}, "InvokeModel")
        time.sleep(self.latency_s)
        request = json.loads(body)
        seed = int.from_bytes(hashlib.sha256(request["inputText"].encode()).digest()[:8], "big")
        vector = np.random.default_rng(seed).standard_normal(request["dimensions"])
        vector /= np.linalg.norm(vector)
        return {"body": io.BytesIO(json.dumps({"embedding": vector.tolist()}).encode())}


def bench_async(claims: dict[str, str], document: str, model: Any, label: str) -> pipeline.Timings:
    """The API's answer for ``document``, then the worker's run on its queued job (local queue),
    with where the worker's time went."""
    data = json.dumps({"title": "Group Finance Policy Manual", "content": document}).encode()
    started = time.perf_counter()
    status, reply = call("POST", "/api/ingest", body=data, headers={"content-type": "application/json"}, claims=claims)
    answered = time.perf_counter() - started
    assert status == 202, (status, reply)
    verdict = "met" if answered < 1 else "NOT met"
    print(f"[{label}] API answer : {status} in {answered * 1000:.0f} ms  (target < 1 s: {verdict})")
    with system_transaction() as conn:
        messages = work_queue_repo.receive(conn, queue=INGEST_QUEUE, limit=1, visibility_s=3600)
    worker.embedder = lambda: model  # type: ignore[assignment,method-assign,return-value]
    timings = pipeline.Timings()
    started = time.perf_counter()
    job_id = uuid.UUID(json.loads(messages[0].body)["job_id"])
    with contextlib.redirect_stdout(io.StringIO()):
        outcome = worker.run_job(job_id, deadline=time.monotonic() + 900, timings=timings)
    total = time.perf_counter() - started
    status, policy = call("GET", f"/api/policies/{reply['policy_id']}", claims=claims)
    chunks = len(policy["content"]) and policy["status"]
    with system_transaction() as conn:
        work_queue_repo.delete(conn, [messages[0].id])
        row = conn.execute("SELECT chunks_total FROM policies WHERE id = %s", (reply["policy_id"],)).fetchone()
    print(f"[{label}] worker     : {outcome} ({chunks}) in {total:.1f} s, {row[0] if row else 0} chunks "
          f"(target < 60 s: {'met' if total < 60 else 'NOT met'})")  # fmt: skip
    # The wall time is the sum of these: writes overlap embedding, and only the embedding loop's
    # waits for them (a full backlog, the last batches) add to it.
    serial = (
        ("extract", timings.extract), ("chunk + map", timings.chunk), ("stage", timings.stage),
        ("embed", timings.embed), ("write wait", timings.write_wait), ("publish", timings.publish),
    )  # fmt: skip
    other = total - sum(seconds for _, seconds in serial)
    for name, seconds in (*serial, ("other", other)):
        print(f"    {name:<12}: {seconds:7.2f} s  ({seconds / total:5.1%})")
    print(f"    writes into search (HNSW), overlapping the embedding: {timings.write:.2f} s over "
          f"{get_settings().ingest_write_connections} connection(s), {timings.batches} transactions")  # fmt: skip
    if row and row[0]:
        print(f"      {timings.write / row[0] * 1000:.1f} ms a chunk on one connection")
    return timings


def seed_chunks(
    owner_url: str, identity: Identity, n: int, embedder: LocalMiniLMEmbedder, *, distinct: int = 400
) -> None:
    """``n`` chunks in 10 policies; vectors from ``distinct`` real embeddings (those of the ingested
    manual, else embedded here) with a little noise."""
    rng = random.Random(5)
    np_rng = np.random.default_rng(5)
    document = generate_policy(n * 700, seed=23)
    chunks = chunk_text(document)
    texts = [c.text for c in chunks]
    while len(texts) < n:
        texts.extend(texts[: n - len(texts)])
    with psycopg.connect(owner_url) as conn:  # the real vectors of the ingested manual, when there is one
        stored = conn.execute(
            "SELECT embedding::text FROM policy_chunks WHERE embedding_model = %s ORDER BY random() LIMIT %s",
            (embedder.model, distinct),
        ).fetchall()
    if len(stored) >= distinct:
        base = np.array([json.loads(v) for (v,) in stored])
    else:
        base = np.array(embedder.embed([c.context_text() for c in rng.sample(chunks, min(distinct, len(chunks)))]))
    vectors = base[np_rng.integers(0, len(base), n)] + np_rng.normal(0, 0.02, (n, base.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_policy = n // 10
    for p in range(10):
        rows = [
            policies_repo.ChunkRow(
                i, None, (f"{p + 1} Section",), texts[p * per_policy + i], 0, 0, vectors[p * per_policy + i]
            )
            for i in range(per_policy)
        ]
        with tenant_transaction(identity.org_id, identity.user_id) as conn:
            _seed_policy(conn, identity, f"Synthetic policy {p + 1}", rows, embedder.model)


def _seed_policy(
    conn: psycopg.Connection, identity: Identity, title: str, chunks: list[policies_repo.ChunkRow], model: str
) -> None:
    """A ready policy with embedded chunks written straight into the tables (the search bench's
    corpus; the product's path stages, embeds and publishes: sheetbrain.policies.pipeline)."""
    row = conn.execute(
        """INSERT INTO policies (org_id, title, content, format, size_bytes, content_sha256, created_by)
           VALUES (%s, %s, '', 'text', 0, %s, %s) RETURNING id""",
        (identity.org_id, title, uuid.uuid4().hex, identity.user_id),
    ).fetchone()
    assert row is not None
    policy_id = uuid.UUID(str(row[0]))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO policy_chunks (policy_id, org_id, ordinal, clause, heading_path, heading, text,
                                          start_offset, end_offset, embedding, embedding_model, embedding_dim)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s, 384)""",
            [
                (policy_id, identity.org_id, c.ordinal, c.clause, list(c.heading_path), " > ".join(c.heading_path),
                 c.text, c.start, c.end, vector_literal(c.embedding if c.embedding is not None else []), model)
                for c in chunks
            ],
        )  # fmt: skip
    policies_repo.corpus_apply(conn, identity.org_id, policy_id, 1)


def bench_search(owner_url: str, identity: Identity, embedder: LocalMiniLMEmbedder, rounds: int) -> None:
    queries = [q["query"] for q in json.loads((DATA / "queries.json").read_text(encoding="utf-8"))]
    started = time.perf_counter()
    vectors = embedder.embed(queries)
    embed_ms = (time.perf_counter() - started) / len(queries) * 1000
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("ANALYZE policy_chunks")
        count = conn.execute("SELECT count(*) FROM policy_chunks WHERE org_id = %s", (identity.org_id,)).fetchone()
    floor = get_settings().retrieval_min_similarity
    print(f"search   : {count[0] if count else 0:,} chunks in the org; {len(queries)} queries x {rounds} rounds, k=5")
    for mode in ("hybrid", "vector", "text"):
        samples = []
        for round_ in range(rounds + 1):
            for query, vector in zip(queries, vectors, strict=True):
                t = time.perf_counter()
                with tenant_transaction(identity.org_id, identity.user_id, pipelined=True) as conn:
                    policies_repo.prepare_search(conn, pool=40)
                    policies_repo.send_hybrid_search(
                        conn, org_id=identity.org_id, query=query, vector=vector, model=embedder.model, dim=384,
                        k=5, pool=40, min_similarity=floor, mode=mode,
                    ).fetchall()  # fmt: skip
                if round_:  # the first round warms the caches
                    samples.append(time.perf_counter() - t)
        p50, p99 = percentiles(samples)
        target = f"  (target < 20 ms: {'met' if p99 < 20 else 'NOT met'})" if mode == "hybrid" else ""
        print(f"  {mode:<6}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms{target}")
    print(f"  (embedding one query with the local model: {embed_ms:.1f} ms on average, not included above)")


def matmul_peak(seconds: float = 2.0) -> float:
    """This machine's fp32 matmul rate (GFLOP/s) through numpy's BLAS, with its default threads:
    the best of repeated GEMMs shaped as the model's feed-forward (4096 x 384 by 384 x 1536)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 384), dtype=np.float32)
    b = rng.standard_normal((384, 1536), dtype=np.float32)
    out = np.empty((4096, 1536), dtype=np.float32)
    np.matmul(a, b, out=out)
    best, until = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        for _ in range(5):
            np.matmul(a, b, out=out)
        best = max(best, 5 * 2 * a.shape[0] * a.shape[1] * b.shape[1] / (time.perf_counter() - started) / 1e9)
    return best


def minilm_flops(token_counts: list[int]) -> float:
    """Multiply-adds x 2 of all-MiniLM-L6-v2 over sequences of these lengths: per token and
    layer the Q/K/V, output and feed-forward GEMMs; per sequence and layer the attention's two
    n x n x 384 products. Embedding lookups, LayerNorm, GELU and softmax are not counted."""
    layers, hidden, inter = 6, 384, 1536
    per_token = 2 * layers * (hidden * 3 * hidden + hidden * hidden + 2 * hidden * inter)
    return float(sum(per_token * n + 2 * 2 * layers * n * n * hidden for n in token_counts))


def report_local_throughput(
    document: str, embedder: LocalMiniLMEmbedder, max_seq_length: int, embed_s: float, peak: float
) -> None:
    """The local model's rate in the worker run against the machine's matmul peak."""
    from sheetbrain.policies.chunking import embedding_input

    settings = get_settings()
    chunks = chunk_text(document, target_size=settings.policy_chunk_chars, overlap=settings.policy_chunk_overlap)
    texts = dict.fromkeys(embedding_input(" > ".join(c.heading_path), c.text) for c in chunks)
    counts = [min(embedder.count_tokens(t), max_seq_length) for t in texts]
    flops = minilm_flops(counts)
    print(f"    local model: {len(counts):,} texts, {sum(counts):,} word pieces in {embed_s:.1f} s = "
          f"{sum(counts) / embed_s:,.0f} word pieces/s, {flops / embed_s / 1e9:.0f} GFLOP/s = "
          f"{flops / embed_s / 1e9 / peak:.0%} of the matmul peak ({peak:.0f} GFLOP/s; at peak: "
          f"{flops / peak / 1e9:.0f} s)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-ingest", action="store_true", help="skip the local model's ingest")
    parser.add_argument("--skip-bedrock", action="store_true", help="skip the Bedrock stub's ingest")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--bedrock-rate", type=float, default=150.0, help="the stub's calls per second")
    args = parser.parse_args()
    drop_database(bench_database("sheetbrain_bench_ingest").owner)  # every run starts from an empty database
    urls = bench_database("sheetbrain_bench_ingest")
    document = generate_policy(int(args.size_mb * 1_000_000))
    stub = StubBedrock(rate=args.bedrock_rate)
    concurrency = get_settings().embed_concurrency
    titan = BedrockTitanEmbedder(client=stub, concurrency=concurrency)
    if not args.skip_bedrock:
        org = f"org_ingw{uuid.uuid4().hex[:8]}"
        bench_async(provision(urls.owner, org), document, titan, "bedrock stub")
        print(f"    stub: 50 ms a call, {args.bedrock_rate:.0f} calls/s before throttling; {stub.calls:,} calls, "
              f"{stub.throttled:,} throttled; EMBED_CONCURRENCY {concurrency}, limit {titan.limit.limit}")  # fmt: skip
    embedder = LocalMiniLMEmbedder(max_seq_length=args.max_seq_length)
    started = time.perf_counter()
    embedder.embed(["warm up"])
    print(f"model    : loaded and warmed in {time.perf_counter() - started:.2f} s")
    if not args.skip_ingest:
        peak = matmul_peak()
        print(f"matmul   : fp32 peak {peak:.0f} GFLOP/s (numpy's BLAS, its default threads)")
        org = f"org_ingb{uuid.uuid4().hex[:8]}"
        timings = bench_async(provision(urls.owner, org), document, embedder, "local model")
        report_local_throughput(document, embedder, args.max_seq_length, timings.embed, peak)
    if args.skip_search:
        return 0
    org = f"org_srch{uuid.uuid4().hex[:8]}"
    provision(urls.owner, org)
    identity = Identity(user_id=f"user_{org}", org_id=org, role="admin")
    started = time.perf_counter()
    seed_chunks(urls.owner, identity, args.chunks, embedder)
    print(f"seeded   : {args.chunks:,} chunks in {time.perf_counter() - started:.1f} s")
    bench_search(urls.owner, identity, embedder, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
