"""The all-MiniLM-L6-v2 sentence encoder as a pure numpy BERT forward pass.

Imported only when the local embedder first embeds: numpy, tokenizers and safetensors are
heavy, and the layer's cold-start import budget cannot pay for them up front.

The math follows Hugging Face's ``BertModel`` in eval mode, which is what sentence-transformers
runs: embeddings (word + absolute position 0..n-1 + token type 0) then LayerNorm; per layer
12-head self-attention, residual + LayerNorm, an erf-GELU feed-forward, residual + LayerNorm
(post-norm, eps 1e-12). Sentence vectors are the mean of the last hidden states over each
sentence's tokens, L2-normalised. Sequences are packed rather than padded for every row-wise
step; attention runs on groups of sequences of like length padded to the group's longest, with
padded keys masked out, which is what the padding mask does in the reference model.

Verified against sentence-transformers' published outputs (see the unit tests): cosine
similarities of the quickstart sentences and the leading components of a reference vector
agree to 1e-5.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

F32 = npt.NDArray[np.float32]

# Abramowitz & Stegun 7.1.26 for erf: |error| < 1.5e-7, below float32 resolution near 1. numpy has
# no erf, and tanh-GELU (the other common form) differs from the model's erf-GELU by up to ~5e-4.
# With u = |x|/sqrt(2) and h = 0.5 * poly(t) * exp(-u^2), t = 1 / (1 + p*u), erf(u) = 1 - 2h, so
# GELU(x) = x * Phi(x) = relu(x) - |x| * h for either sign of x: no branch, one exp.
_AS_P = np.float32(0.3275911 / math.sqrt(2.0))
_AS_HALF_A = tuple(np.float32(0.5 * a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
# Rows per feed-forward GEMM: large enough that OpenBLAS runs near its peak (256-row blocks
# ran at ~60% of a whole batch's rate); GELU then walks the (rows, 1536) intermediate in
# sub-blocks of _GELU_ROWS, whose scratch stays in the 2 MiB L2 across its twenty-odd passes.
_FFN_BLOCK_ROWS = 1024
_GELU_ROWS = 64
# Attention runs on groups of sequences padded to the group's longest (padded keys masked out,
# padded queries dropped): one batched matmul per group instead of a dozen numpy calls per
# sequence. Sequences join a group while the padding stays under this share of its scores and
# the group's scores (group x heads x n x n floats) under this many, so the softmax's passes
# over them stay in cache (they are memory-bound past it).
_ATTENTION_PAD_SHARE = 0.15
_ATTENTION_SCORES_MAX = 1 << 18


def gelu_(x: F32, t: F32, e: F32) -> F32:
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``, computed in place in ``x``.

    ``t`` and ``e`` are scratch arrays of the same shape; working in place over small blocks is
    what makes the twenty-odd elementwise passes cheap (they are memory-bound otherwise).
    """
    a1, a2, a3, a4, a5 = _AS_HALF_A
    np.abs(x, out=e)
    np.multiply(e, _AS_P, out=t)
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(e, e, out=e)
    e *= -0.5
    np.exp(e, out=e)  # exp(-x^2/2)
    poly = t * a5
    poly += a4
    poly *= t
    poly += a3
    poly *= t
    poly += a2
    poly *= t
    poly += a1
    poly *= t
    poly *= e  # h
    np.abs(x, out=e)
    poly *= e
    np.maximum(x, 0.0, out=x)
    x -= poly
    return x


def gelu(x: F32) -> F32:
    """Exact (erf) GELU on a copy of ``x``."""
    out = np.array(x, dtype=np.float32, copy=True)
    return gelu_(out, np.empty_like(out), np.empty_like(out))


def layer_norm_(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    """LayerNorm over the last axis with biased variance, as torch does, in place in ``x``."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("...i,...i->...", x, x)[..., None] / np.float32(x.shape[-1])
    x *= 1.0 / np.sqrt(var + np.float32(eps))
    x *= weight
    x += bias
    return x


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32  # (hidden, 3*hidden): query, key and value fused so one GEMM serves all three
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1_w: F32
    ln1_b: F32
    inter_w: F32
    inter_b: F32
    ffn_out_w: F32
    ffn_out_b: F32
    ln2_w: F32
    ln2_b: F32


class MiniLMEncoder:
    """Tokenizer + weights of a BERT sentence encoder, loaded from a sentence-transformers folder."""

    def __init__(self, model_dir: Path, max_seq_length: int | None = None) -> None:
        config: dict[str, Any] = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        st_config_path = model_dir / "sentence_bert_config.json"
        st_config: dict[str, Any] = (
            json.loads(st_config_path.read_text(encoding="utf-8")) if st_config_path.exists() else {}
        )
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        limit = int(st_config.get("max_seq_length", config["max_position_embeddings"]))
        self.max_seq_length = min(max_seq_length or limit, int(config["max_position_embeddings"]))

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with fixed padding/truncation at 128; the model card runs at 256
        # and we pad per length-sorted batch ourselves.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._counter: Tokenizer | None = None

        w = load_file(str(model_dir / "model.safetensors"))

        def get(name: str) -> F32:
            # Checkpoints saved from BertModel have no prefix; some from BertFor* use "bert.".
            arr = w.get(name, w.get(f"bert.{name}"))
            if arr is None:
                raise KeyError(name)
            return np.ascontiguousarray(arr, dtype=np.float32)

        self.word_emb = get("embeddings.word_embeddings.weight")
        self.pos_emb = get("embeddings.position_embeddings.weight")
        self.type0_emb = get("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln_w = get("embeddings.LayerNorm.weight")
        self.emb_ln_b = get("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        scale = np.float32(1.0 / math.sqrt(self.head_dim))
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            # torch Linear stores (out, in); transpose once here so the hot path is x @ W.
            qkv_w = np.concatenate([get(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")], axis=0)
            qkv_b = np.concatenate([get(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            # Fold the 1/sqrt(head_dim) score scale into the query projection: (s*q)·k == s*(q·k).
            qkv_w[: self.hidden] *= scale
            qkv_b[: self.hidden] *= scale
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w.T),
                    qkv_b=qkv_b,
                    out_w=np.ascontiguousarray(get(p + "attention.output.dense.weight").T),
                    out_b=get(p + "attention.output.dense.bias"),
                    ln1_w=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    inter_w=np.ascontiguousarray(get(p + "intermediate.dense.weight").T),
                    inter_b=get(p + "intermediate.dense.bias"),
                    ffn_out_w=np.ascontiguousarray(get(p + "output.dense.weight").T),
                    ffn_out_b=get(p + "output.dense.bias"),
                    ln2_w=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens including [CLS]/[SEP], without truncation (for chunk sizing)."""
        if self._counter is None:
            counter = Tokenizer.from_str(self.tokenizer.to_str())
            counter.no_truncation()
            self._counter = counter
        return len(self._counter.encode(text).ids)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids with [CLS]/[SEP], truncated to ``max_seq_length``."""
        return [enc.ids for enc in self.tokenizer.encode_batch(texts)]

    def forward_packed(self, token_ids: list[list[int]]) -> F32:
        """Last hidden states of several sequences packed end to end as (total_tokens, hidden).

        Packing instead of padding: every row-wise step (the GEMMs, LayerNorm, GELU) runs only
        on real tokens, and attention runs per sequence on its own slice, so no mask is needed
        and no FLOP is spent on padding.
        """
        lengths = [len(ids) for ids in token_ids]
        total = sum(lengths)
        flat_ids = np.fromiter((i for ids in token_ids for i in ids), dtype=np.int64, count=total)
        positions = np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

        x = self.word_emb[flat_ids]
        x += self.pos_emb[positions]
        x += self.type0_emb
        layer_norm_(x, self.emb_ln_w, self.emb_ln_b, self.eps)

        h, d, hidden = self.heads, self.head_dim, self.hidden
        block = min(_FFN_BLOCK_ROWS, total)
        inter_size = self.layers[0].inter_w.shape[1] if self.layers else 0
        inter = np.empty((block, inter_size), dtype=np.float32)
        scratch_t = np.empty((_GELU_ROWS, inter_size), dtype=np.float32)
        scratch_e = np.empty_like(scratch_t)
        ctx = np.empty((total, hidden), dtype=np.float32)
        groups = _attention_groups(starts.tolist(), lengths, h)
        for layer in self.layers:
            qkv = x @ layer.qkv_w  # the query third is pre-scaled by 1/sqrt(head_dim)
            qkv += layer.qkv_b
            for rows_of, valid, key_mask in groups:
                b, n = rows_of.shape
                seq = qkv[rows_of].reshape(b, n, 3, h, d)  # one gather: (group, padded length, ...)
                q: F32 = np.ascontiguousarray(seq[:, :, 0].transpose(0, 2, 1, 3))
                k: F32 = np.ascontiguousarray(seq[:, :, 1].transpose(0, 2, 3, 1))
                v: F32 = np.ascontiguousarray(seq[:, :, 2].transpose(0, 2, 1, 3))
                scores: F32 = np.matmul(q, k)
                if key_mask is not None:
                    scores += key_mask  # -inf on padded keys: exp() makes their weight exactly 0
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                # Normalise after multiplying by V: dividing (heads, n, 32) is cheaper than (heads, n, n).
                head_ctx: F32 = np.matmul(scores, v)
                head_ctx /= scores.sum(axis=-1, keepdims=True)
                merged = head_ctx.transpose(0, 2, 1, 3).reshape(b, n, hidden)
                if valid is None:
                    ctx[rows_of.reshape(-1)] = merged.reshape(b * n, hidden)
                else:
                    ctx[rows_of[valid]] = merged[valid]
            x1 = ctx @ layer.out_w
            x1 += layer.out_b
            x1 += x
            layer_norm_(x1, layer.ln1_w, layer.ln1_b, self.eps)
            for r in range(0, total, block):
                rows = min(block, total - r)
                blk = inter[:rows]
                np.matmul(x1[r : r + rows], layer.inter_w, out=blk)
                blk += layer.inter_b
                for g in range(0, rows, _GELU_ROWS):
                    sub = blk[g : g + _GELU_ROWS]
                    gelu_(sub, scratch_t[: len(sub)], scratch_e[: len(sub)])
                out = blk @ layer.ffn_out_w
                out += layer.ffn_out_b
                out += x1[r : r + rows]
                x[r : r + rows] = layer_norm_(out, layer.ln2_w, layer.ln2_b, self.eps)
        return x

    def encode(self, texts: list[str], batch_tokens: int = 4096) -> F32:
        """L2-normalised mean-pooled sentence vectors (len(texts), hidden), in input order.

        Texts are taken shortest first (so sequences of like length meet in attention's groups
        and pad little) in batches of about ``batch_tokens`` tokens: large enough that the
        GEMMs run near peak, small enough that the intermediates stay in cache.
        """
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        unsorted = self.tokenize(texts)
        order = sorted(range(len(texts)), key=lambda i: len(unsorted[i]))
        token_ids = [unsorted[i] for i in order]
        sorted_out = np.zeros_like(out)
        start = 0
        while start < len(texts):
            end, budget = start, 0
            while end < len(texts) and (end == start or budget + len(token_ids[end]) <= batch_tokens):
                budget += len(token_ids[end])
                end += 1
            batch = token_ids[start:end]
            hidden = self.forward_packed(batch)
            lengths = np.array([len(ids) for ids in batch], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            # Mean pooling over real tokens only: packing means every row is a real token.
            pooled = np.add.reduceat(hidden, offsets, axis=0) / lengths[:, None].astype(np.float32)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
            sorted_out[start:end] = pooled / norms
            start = end
        out[np.asarray(order, dtype=np.int64)] = sorted_out
        return out


_AttentionGroup = tuple["npt.NDArray[np.int64]", "npt.NDArray[np.bool_] | None", "F32 | None"]


def _attention_groups(starts: list[int], lengths: list[int], heads: int) -> list[_AttentionGroup]:
    """Sequences (given by their first row and length) in groups of like length, each as
    (rows: the packed row of each position, padded with the sequence's first row, (group, n);
    which positions are real, None when none is padding; the additive key mask, (group, 1, 1, n)
    with -inf on padding, or None)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[_AttentionGroup] = []
    members: list[int] = []

    def close() -> None:
        n = max(lengths[i] for i in members)
        positions = np.arange(n, dtype=np.int64)
        member_lengths = np.array([lengths[i] for i in members], dtype=np.int64)
        valid = positions[None, :] < member_lengths[:, None]
        first = np.array([starts[i] for i in members], dtype=np.int64)
        rows = np.where(valid, first[:, None] + positions[None, :], first[:, None])
        if valid.all():
            groups.append((rows, None, None))
            return
        mask = np.where(valid, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)[:, None, None, :]
        groups.append((rows, valid, mask))

    real = 0  # the members' own scores (sum of n^2)
    for i in order:
        n = lengths[i]  # the longest so far: taken shortest first
        padded = (len(members) + 1) * n * n
        if members and (
            padded * heads > _ATTENTION_SCORES_MAX or padded - real - n * n > _ATTENTION_PAD_SHARE * padded
        ):
            close()
            members, real = [], 0
        members.append(i)
        real += n * n
    if members:
        close()
    return groups
