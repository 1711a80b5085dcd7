"""Inference conformance tests every inference provider runs, through the stack with the real ``openai`` SDK.

Subclass :class:`InferenceProviderTests`, name the provider type, its config and the models to test, and list the
capabilities it has. A capability left out skips its tests; it never turns a failure into a pass::

    class TestAcmeInference(InferenceProviderTests):
        provider_type = "remote::acme"
        provider_config = {"base_url": "http://127.0.0.1:8080/v1", "api_key": "k"}
        chat_model = "acme-small"
        capabilities = CHAT_CAPABILITIES

The stack is started once per class (``stack_client``); its models are registered from the run config as
``chat-under-test`` and ``embedding-under-test``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..inference.embeddings import decode_base64
from ..plugins import PluginManager
from .harness import make_run_config, stack_client

PROVIDER_ID = "under-test"
CHAT = "chat-under-test"
EMBEDDING = "embedding-under-test"

#: Capability names. ``deterministic``: temperature 0 gives the same text streamed and not streamed.
CHAT_CAPABILITIES = frozenset({"chat", "streaming", "stream_usage", "max_tokens", "completions", "deterministic"})
ALL_CAPABILITIES = CHAT_CAPABILITIES | {
    "tools",
    "json_schema",
    "json_object",
    "n",
    "logprobs",
    "embeddings",
    "embeddings_base64",
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


class InferenceProviderTests:
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    chat_model: ClassVar[str | None] = None
    embedding_model: ClassVar[str | None] = None
    embedding_dimension: ClassVar[int | None] = None
    capabilities: ClassVar[frozenset[str]] = CHAT_CAPABILITIES
    max_tokens: ClassVar[int] = 8
    supporting_providers: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    extra_plugins: ClassVar[list[Any]] = []

    # -- fixtures ------------------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls) -> dict[str, Any]:
        """The provider's config. Override this fixture to build it from other fixtures (e.g. a server's URL)."""
        return cls.provider_config

    @pytest.fixture(scope="class")
    @classmethod
    def run_config(cls, tmp_path_factory: pytest.TempPathFactory, config_under_test: dict[str, Any]) -> dict[str, Any]:
        models = []
        if cls.chat_model:
            models.append({"model_id": CHAT, "provider_id": PROVIDER_ID, "provider_model_id": cls.chat_model})
        if cls.embedding_model:
            models.append(
                {
                    "model_id": EMBEDDING,
                    "provider_id": PROVIDER_ID,
                    "model_type": "embedding",
                    "provider_model_id": cls.embedding_model,
                    "metadata": {"embedding_dimension": cls.embedding_dimension},
                }
            )
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.setdefault("inference", []).append(
            {"provider_id": PROVIDER_ID, "provider_type": cls.provider_type, "config": config_under_test}
        )
        return make_run_config(providers, Path(tmp_path_factory.mktemp("inference-kit")), models=models)

    @pytest.fixture(scope="class")
    @classmethod
    async def http(cls, run_config: dict[str, Any], anyio_backend: str) -> AsyncIterator[Any]:
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield client

    @pytest.fixture(scope="class")
    @classmethod
    def openai(cls, http: Any) -> Any:
        openai = pytest.importorskip("openai")
        return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)

    def need(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if c not in self.capabilities]
        if missing:
            pytest.skip(f"{self.provider_type} does not declare {', '.join(missing)}")
        if "embeddings" not in capabilities and "embeddings_base64" not in capabilities and not self.chat_model:
            pytest.skip("no chat_model to test")

    def chat(self, **params: Any) -> dict[str, Any]:
        return {
            "model": CHAT,
            "messages": [{"role": "user", "content": "Name three colors."}],
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "seed": 7,
            **params,
        }

    # -- chat ----------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_chat_completion(self, openai: Any) -> None:
        self.need("chat")
        completion = await openai.chat.completions.create(**self.chat())
        choice = completion.choices[0]
        assert isinstance(choice.message.content, str)
        assert choice.message.role == "assistant"
        assert choice.finish_reason in ("stop", "length")
        usage = completion.usage
        assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= self.max_tokens
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    @pytest.mark.anyio
    async def test_all_message_roles(self, openai: Any) -> None:
        self.need("chat")
        messages = [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "What is the weather in Paris?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
        ]
        completion = await openai.chat.completions.create(**self.chat(messages=messages))
        assert completion.choices[0].finish_reason in ("stop", "length")

    @pytest.mark.anyio
    async def test_max_tokens_stops_with_length(self, openai: Any) -> None:
        self.need("chat", "max_tokens")
        for limit in ({"max_tokens": 1}, {"max_tokens": None, "max_completion_tokens": 1}):
            completion = await openai.chat.completions.create(**self.chat(**limit))
            assert completion.choices[0].finish_reason == "length"
            assert completion.usage.completion_tokens == 1

    @pytest.mark.anyio
    async def test_streaming_matches_non_streaming(self, openai: Any) -> None:
        self.need("chat", "streaming", "deterministic")
        await openai.chat.completions.create(**self.chat())  # warm any prompt cache so both runs see one state
        whole = await openai.chat.completions.create(**self.chat())
        stream = await openai.chat.completions.create(**self.chat(stream=True))
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(chunks) > 1
        assert text == whole.choices[0].message.content
        assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason in ("stop", "length")

    @pytest.mark.anyio
    async def test_stream_usage(self, openai: Any) -> None:
        self.need("chat", "streaming", "stream_usage")
        stream = await openai.chat.completions.create(**self.chat(stream=True, stream_options={"include_usage": True}))
        chunks = [chunk async for chunk in stream]
        usage = chunks[-1].usage
        assert usage is not None and usage.completion_tokens > 0
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    @pytest.mark.anyio
    async def test_forced_tool_call(self, openai: Any) -> None:
        self.need("chat", "tools")
        completion = await openai.chat.completions.create(
            **self.chat(
                messages=[{"role": "user", "content": "What's the weather in Oslo?"}],
                max_tokens=64,
                tools=[WEATHER_TOOL],
                tool_choice={"type": "function", "function": {"name": "get_weather"}},
            )
        )
        calls = completion.choices[0].message.tool_calls
        assert calls and calls[0].function.name == "get_weather"
        assert isinstance(json.loads(calls[0].function.arguments)["city"], str)

    @pytest.mark.anyio
    async def test_json_schema_output(self, openai: Any) -> None:
        self.need("chat", "json_schema")
        completion = await openai.chat.completions.create(
            **self.chat(
                messages=[{"role": "user", "content": "Invent a person."}],
                max_tokens=64,
                response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}},
            )
        )
        person = json.loads(completion.choices[0].message.content)
        assert isinstance(person["name"], str) and isinstance(person["age"], int)

    @pytest.mark.anyio
    async def test_json_object_output(self, openai: Any) -> None:
        self.need("chat", "json_object")
        completion = await openai.chat.completions.create(
            **self.chat(
                messages=[{"role": "user", "content": "Reply with a JSON object."}],
                max_tokens=24,
                response_format={"type": "json_object"},
            )
        )
        content = completion.choices[0].message.content
        if completion.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(content), dict)
        else:
            assert content.lstrip().startswith("{")

    @pytest.mark.anyio
    async def test_n_choices(self, openai: Any) -> None:
        self.need("chat", "n")
        completion = await openai.chat.completions.create(**self.chat(n=2, temperature=1.0))
        assert [c.index for c in completion.choices] == [0, 1]

    @pytest.mark.anyio
    async def test_logprobs(self, openai: Any) -> None:
        self.need("chat", "logprobs")
        completion = await openai.chat.completions.create(**self.chat(logprobs=True, top_logprobs=2))
        tokens = completion.choices[0].logprobs.content
        assert tokens and all(t.logprob <= 0 for t in tokens)

    # -- completions ---------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_text_completion(self, openai: Any) -> None:
        self.need("completions")
        completion = await openai.completions.create(
            model=CHAT, prompt="The capital of France is", max_tokens=self.max_tokens, temperature=0
        )
        assert isinstance(completion.choices[0].text, str) and completion.choices[0].text
        assert completion.usage.completion_tokens > 0

    @pytest.mark.anyio
    async def test_text_completion_streaming(self, openai: Any) -> None:
        self.need("completions", "streaming", "deterministic")
        params = {"model": CHAT, "prompt": "Once upon a time", "max_tokens": self.max_tokens, "temperature": 0}
        await openai.completions.create(**params)  # warm any prompt cache so both runs see one state
        whole = await openai.completions.create(**params)
        stream = await openai.completions.create(**params, stream=True)
        streamed = "".join([c.choices[0].text async for c in stream if c.choices])
        assert streamed == whole.choices[0].text, (streamed, whole.choices[0].text)

    # -- embeddings ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_embeddings(self, openai: Any) -> None:
        self.need("embeddings")
        texts = ["a cat sat on the mat", "quarterly revenue grew", "a kitten rested on a rug"]
        batch = await openai.embeddings.create(model=EMBEDDING, input=texts)
        assert [d.index for d in batch.data] == [0, 1, 2]
        assert all(len(d.embedding) == self.embedding_dimension for d in batch.data)
        single = await openai.embeddings.create(model=EMBEDDING, input=texts[1])
        assert single.data[0].embedding == pytest.approx(batch.data[1].embedding, abs=1e-4)
        assert batch.usage.prompt_tokens > 0

    @pytest.mark.anyio
    async def test_embeddings_base64(self, openai: Any, http: Any) -> None:
        self.need("embeddings", "embeddings_base64")
        body = {"model": EMBEDDING, "input": ["hello world"]}
        floats = (await http.post("/v1/embeddings", json=body)).json()["data"][0]["embedding"]
        encoded = (await http.post("/v1/embeddings", json={**body, "encoding_format": "base64"})).json()
        assert decode_base64(encoded["data"][0]["embedding"]) == pytest.approx(floats, abs=1e-6)

    # -- errors --------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_errors_are_json_4xx(self, http: Any) -> None:
        unknown = await http.post(
            "/v1/chat/completions", json={"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}
        )
        bad = await http.post("/v1/chat/completions", json={"model": CHAT, "messages": "not a list"})
        assert unknown.status_code == 404 and "error" in unknown.json()
        assert bad.status_code == 422 and bad.json()["error"]["param"].startswith("messages")
