"""Inference end to end on real parts: ``stack serve`` with the local GGUF model (llama-cpp) and the offline
embedding model (sentence-transformers), driven by the real ``openai`` and ``llama-stack-client`` SDKs over HTTP."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from llama_stack_client import LlamaStackClient

from llama_stack_core.testing.harness import make_run_config, served_stack
from llama_stack_core.testing.waiting import eventually_sync

pytestmark = pytest.mark.slow
pytest.importorskip("llama_stack_provider_llama_cpp")
pytest.importorskip("llama_stack_provider_sentence_transformers")

CHAT = "gemma-3-270m"
EMBED = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    config = make_run_config(
        {
            "inference": [
                {"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": {"n_threads": 1}},
                {"provider_id": "st", "provider_type": "inline::sentence-transformers", "config": {}},
            ]
        },
        tmp,
    )
    with served_stack(config, tmp, timeout=120) as base:

        def embeds() -> bool:  # the models load in the background
            response = httpx.post(f"{base}/v1/embeddings", json={"model": EMBED, "input": "warm"}, timeout=60)
            assert response.status_code == 200, response.text
            return True

        eventually_sync(embeds, timeout=300, interval=0.2, what="the embedding model")
        yield base


def test_openai_sdk(url):
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="none")
    assert {CHAT, EMBED} <= {m.id for m in client.models.list()}
    params = dict(
        model=CHAT,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "The sky is"}],
        max_tokens=6,
        temperature=0,
    )
    whole = client.chat.completions.create(**params)
    assert whole.object == "chat.completion" and whole.choices[0].message.content
    assert whole.usage.completion_tokens <= 6 and whole.usage.total_tokens == (
        whole.usage.prompt_tokens + whole.usage.completion_tokens
    )
    chunks = list(client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    text = client.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=5, temperature=0)
    assert text.choices[0].text and text.usage.completion_tokens <= 5
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model=CHAT, prompt="Once upon a time", max_tokens=5, temperature=0, stream=True
        )
    )
    assert streamed == text.choices[0].text
    floats = client.embeddings.create(model=EMBED, input=["a cat", "stock markets"])
    assert [len(d.embedding) for d in floats.data] == [384, 384]
    raw = httpx.post(f"{url}/v1/embeddings", json={"model": EMBED, "input": ["a cat"], "encoding_format": "base64"})
    decoded = struct.unpack("<384f", base64.b64decode(raw.json()["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=CHAT, input="x")  # a text model on the embeddings endpoint
    with pytest.raises(openai.NotFoundError, match="/v1/models"):
        client.chat.completions.create(model="not-a-model", messages=[{"role": "user", "content": "x"}])


def test_llama_stack_client(url):
    client = LlamaStackClient(base_url=url)
    models = {m.identifier: m for m in client.models.list()}
    assert models[CHAT].api_model_type == "llm" and models[EMBED].api_model_type == "embedding"
    assert models[EMBED].metadata["embedding_dimension"] == 384
    answer = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hello"}], max_tokens=4)
    usage = answer.usage if isinstance(answer.usage, dict) else answer.usage.model_dump()  # untyped in 0.2.12
    assert answer.choices[0].message.content and 0 < usage["completion_tokens"] <= 4
    stream = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Hello"}], max_tokens=4, stream=True
    )
    assert sum(1 for _ in stream) >= 2
    embedded = client.embeddings.create(model=EMBED, input=["hello"])
    assert len(embedded.data[0].embedding) == 384
    registered = client.models.register(model_id="gemma-alias", provider_id="llama-cpp", provider_model_id=CHAT)
    assert registered.provider_resource_id == CHAT
    again = client.chat.completions.create(
        model="gemma-alias", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert again.choices[0].finish_reason in ("stop", "length")
