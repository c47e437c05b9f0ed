"""Local embedder throughput and the chunk+embed time of a ~1 MB policy document.

Run: .venv/bin/python bench/embed_local.py [--size-mb 1.0] [--max-seq-length 256]

Prints: import times, model load time, chunks/s and tokens/s at several batch sizes, then the
time to chunk and embed a generated policy document (target for ingest: 1 MB under 30 s).
"""

from __future__ import annotations

import argparse
import importlib
import random
import subprocess
import sys
import time

CONTROLS = [
    "Lookups must use exact match; approximate matching is prohibited for {obj}.",
    "Formulas in the {obj} must not reference external workbooks or network drives.",
    "Volatile functions such as NOW, TODAY, OFFSET and INDIRECT must not drive {obj}.",
    "The {role} reviews every change to the {obj} before month-end close.",
    "Hard-coded rates are not permitted in {obj}; keep them on the assumptions sheet.",
    "Each division in the {obj} must be guarded against a zero denominator.",
    "Formulas must not nest more than {n} functions deep, and must stay under {m} characters.",
    "Errors in the {obj} must be investigated, never hidden with IFERROR.",
    "Whole-column references such as A:A are not allowed in the {obj}.",
    "The {role} keeps an audit trail of overrides applied to the {obj}.",
    "Data imported from the web (IMPORTXML, WEBSERVICE) is prohibited in the {obj}.",
    "VAT is {vat}% and must be read from the rates table, not typed into formulas.",
    "Access to the {obj} is restricted to the finance team and the {role}.",
    "Where a control fails, the {role} records the exception and the remediation date.",
]
OBJECTS = [
    "revenue forecast", "payroll workbook", "cash-flow model", "board pack", "budget template",
    "commission calculator", "fixed-asset register", "VAT return workings", "bank reconciliation",
]  # fmt: skip
ROLES = ["financial controller", "model owner", "internal auditor", "head of FP&A", "reviewer"]
TOPICS = [
    "Lookups", "External links", "Volatile functions", "Constants", "Error handling", "Ranges",
    "Change control", "Access", "Review", "Documentation", "Data imports", "Formula complexity",
]  # fmt: skip


def generate_policy(target_chars: int, seed: int = 42) -> str:
    """A policy of headings, numbered clauses, sub-items and bullets, about ``target_chars`` long."""
    rng = random.Random(seed)
    parts = ["# Spreadsheet Risk and Control Policy\n\n"]
    size, section = len(parts[0]), 0
    while size < target_chars:
        section += 1
        block = [f"## {section} {rng.choice(TOPICS)}\n\n"]
        for clause in range(1, rng.randint(3, 7)):
            sentences = [
                rng.choice(CONTROLS).format(
                    obj=rng.choice(OBJECTS),
                    role=rng.choice(ROLES),
                    n=rng.randint(2, 5),
                    m=rng.choice((150, 200, 250)),
                    vat=rng.choice((5, 20, 21)),
                )
                for _ in range(rng.randint(2, 9))
            ]
            block.append(f"{section}.{clause} {' '.join(sentences)}\n")
            if rng.random() < 0.3:
                for letter in "abc"[: rng.randint(1, 3)]:
                    item = rng.choice(CONTROLS).format(
                        obj=rng.choice(OBJECTS), role=rng.choice(ROLES), n=3, m=200, vat=20
                    )
                    block.append(f"({letter}) {item}\n")
            if rng.random() < 0.2:
                block.extend(f"- {rng.choice(OBJECTS).capitalize()} owner: {rng.choice(ROLES)}\n" for _ in range(3))
            block.append("\n")
        text = "".join(block)
        parts.append(text)
        size += len(text)
    return "".join(parts)


def import_times() -> None:
    modules = ["extract", "chunking", "clause_map", "embedding"]
    for name in modules:
        code = (
            f"import time; t = time.perf_counter(); import sheetbrain.policies.{name}; print(time.perf_counter() - t)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        print(f"import sheetbrain.policies.{name:<11} {float(out.stdout) * 1000:7.1f} ms")
    code = "import time; t = time.perf_counter(); import sheetbrain.policies._minilm; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    print(f"import numpy+tokenizers+safetensors (_minilm) {float(out.stdout) * 1000:7.1f} ms  (on first embed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--chunk-chars", type=int, default=1000)
    parser.add_argument("--overlap-chars", type=int, default=150)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    import_times()
    chunking = importlib.import_module("sheetbrain.policies.chunking")
    embedding = importlib.import_module("sheetbrain.policies.embedding")
    embedder = embedding.LocalMiniLMEmbedder(max_seq_length=args.max_seq_length)

    started = time.perf_counter()
    embedder.embed(["warm up"])
    print(f"model load + first embed            {time.perf_counter() - started:7.2f} s")

    sample = chunking.chunk_text(generate_policy(200_000, seed=7), target_size=args.chunk_chars)
    texts = [c.context_text() for c in sample][:192]
    tokens = sum(min(embedder.count_tokens(t), args.max_seq_length) for t in texts)
    if not args.skip_throughput:
        print(f"\nthroughput over {len(texts)} chunks, {tokens / len(texts):.0f} tokens/chunk on average")
        for batch_tokens in (1024, 2048, 4096, 8192):
            sized = embedding.LocalMiniLMEmbedder(max_seq_length=args.max_seq_length, batch_tokens=batch_tokens)
            started = time.perf_counter()
            sized.embed(texts)
            elapsed = time.perf_counter() - started
            print(
                f"  batch ~{batch_tokens:>5} tokens: {len(texts) / elapsed:6.1f} chunks/s"
                f"  {tokens / elapsed:7.0f} tokens/s"
            )

    document = generate_policy(int(args.size_mb * 1_000_000))
    print(f"\ndocument: {len(document.encode()) / 1e6:.2f} MB, {len(document):,} chars")
    started = time.perf_counter()
    chunks = chunking.chunk_text(document, target_size=args.chunk_chars, overlap=args.overlap_chars)
    chunked = time.perf_counter()
    inputs = [c.context_text() for c in chunks]
    vectors = embedder.embed(inputs)
    done = time.perf_counter()
    doc_tokens = sum(min(embedder.count_tokens(t), args.max_seq_length) for t in inputs)
    print(f"chunk:  {chunked - started:6.2f} s  -> {len(chunks)} chunks")
    print(
        f"embed:  {done - chunked:6.2f} s  -> {len(vectors)} vectors, {doc_tokens:,} tokens embedded "
        f"(cap {args.max_seq_length}/chunk), {doc_tokens / (done - chunked):.0f} tokens/s"
    )
    print(f"total:  {done - started:6.2f} s  (target < 30 s)")


if __name__ == "__main__":
    main()
