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
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from ..inference.embeddings import decode_base64
from ..plugins import PluginManager
from .harness import make_run_config, plugin_stack, provider_run_config, stack_client
from .imports import assert_plugin_module_is_light

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


def chat_body(model: str, content: str = "hi", **params: Any) -> dict[str, Any]:
    """A ``/v1/chat/completions`` request body: one user message to ``model``, plus any other parameters."""
    return {"model": model, "messages": [{"role": "user", "content": content}], **params}


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


# -- vendors built on the core's OpenAI-compatible adapter ---------------------------------------------------------

#: The conformance tests every OpenAI-compatible vendor runs against the local server: a chat, a streamed chat and a
#: text completion are enough to show its config, URL joining and request rewriting reach a real server.
SMOKE_TESTS = frozenset({"test_chat_completion", "test_streaming_matches_non_streaming", "test_text_completion"})
CONFORMANCE_TESTS = frozenset(name for name in vars(InferenceProviderTests) if name.startswith("test_"))
LIVE_PROVIDER_ID = "live"
LIVE_CHAT = "live-chat"
LIVE_EMBEDDING = "live-embedding"


class OpenAICompatVendorTests(InferenceProviderTests):
    """Tests for a vendor package built on :class:`~llama_stack_core.inference.openai_compat.OpenAICompatInference`.

    Subclass it once per vendor, naming the plugin module, the provider type, what the vendor supports and how to
    reach its real API::

        class TestAcme(OpenAICompatVendorTests):
            plugin = llama_stack_provider_acme.plugin
            provider_type = "remote::acme"
            capabilities = frozenset({"chat", "streaming", "max_tokens", "deterministic", "completions"})
            live_env = {"api_key": "ACME_API_KEY"}
            live_chat_model = "acme/llama-3-8b"

    - Against the local llama-cpp-python server (fixture ``llama_cpp_base_url``, model ``gemma``): the vendors share
      one adapter, so one vendor (``full_conformance = True``) runs every conformance test and the others run
      :data:`SMOKE_TESTS`. What a vendor changes in a request is checked where it can be seen exactly: in the
      vendor's own tests against a scripted server.
    - The plugin module stays light and is found by its entry point.
    - Against the vendor's real API, through the stack with the ``openai`` SDK: skipped unless every environment
      variable of ``live_env`` (config field -> variable) is set. ``live_chat_model`` None takes the first LLM the
      provider lists (self-hosted servers serve what they were started with).
    """

    plugin: ClassVar[ModuleType]
    chat_model = "gemma"
    max_tokens = 4  # keeps the local runs short
    full_conformance: ClassVar[bool] = False
    #: Config for the local server besides ``base_url``.
    local_config: ClassVar[dict[str, Any]] = {"api_key": "test-key"}
    #: Modules the plugin module must not import, besides the package's ``provider`` module.
    heavy_modules: ClassVar[frozenset[str]] = frozenset({"aiohttp", "openai"})
    live_env: ClassVar[dict[str, str]] = {}
    live_chat_model: ClassVar[str | None] = None
    live_embedding_model: ClassVar[str | None] = None
    live_embedding_dimension: ClassVar[int | None] = None
    live_lists_models: ClassVar[bool] = True
    live_max_tokens: ClassVar[int] = 32

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "plugin" in vars(cls):
            cls.extra_plugins = [cls.plugin]
        if not cls.full_conformance:
            for name in CONFORMANCE_TESTS - SMOKE_TESTS:
                setattr(cls, name, None)  # pytest collects only callables

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, llama_cpp_base_url: str) -> dict[str, Any]:
        return {**cls.local_config, "base_url": llama_cpp_base_url}

    # -- the plugin package --------------------------------------------------------------------------------------

    def test_plugin_module_stays_light(self) -> None:
        package = self.plugin.__name__.rpartition(".")[0]
        heavy = {f"{package}.provider", *self.heavy_modules}
        assert_plugin_module_is_light(self.plugin.__name__, heavy, call=["register_inference_providers"])

    def test_entry_point_is_found(self) -> None:
        distribution = self.plugin.__name__.partition(".")[0].replace("_", "-")
        found = PluginManager().provider_specs[f"inference:{self.provider_type}"]
        assert found.plugin.package == distribution
        assert found.spec.factory.endswith(".provider:create_provider")

    # -- the vendor's real API -----------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    async def live(cls, tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> AsyncIterator[Any]:
        """The ``openai`` SDK on a stack whose provider ``live`` calls the vendor's real API."""
        missing = [variable for variable in cls.live_env.values() if not os.environ.get(variable)]
        if not cls.live_env or missing:
            pytest.skip(f"set {', '.join(missing or ['live_env'])} to test {cls.provider_type} against its API")
        openai = pytest.importorskip("openai")
        config: dict[str, Any] = {field: os.environ[variable] for field, variable in cls.live_env.items()}
        if cls.live_lists_models:
            config.setdefault("refresh_models", True)
        models = []
        if cls.live_chat_model:
            models.append(
                {"model_id": LIVE_CHAT, "provider_id": LIVE_PROVIDER_ID, "provider_model_id": cls.live_chat_model}
            )
        if cls.live_embedding_model:
            models.append(
                {
                    "model_id": LIVE_EMBEDDING,
                    "provider_id": LIVE_PROVIDER_ID,
                    "model_type": "embedding",
                    "provider_model_id": cls.live_embedding_model,
                    "metadata": {"embedding_dimension": cls.live_embedding_dimension},
                }
            )
        run_config = provider_run_config(
            Path(tmp_path_factory.mktemp("live")),
            cls.provider_type,
            config,
            provider_id=LIVE_PROVIDER_ID,
            models=models,
        )
        async with plugin_stack(cls.plugin, run_config) as client:
            yield openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=client, max_retries=0)

    async def live_chat_model_id(self, live: Any) -> str:
        if self.live_chat_model:
            return LIVE_CHAT
        listed = [m.id async for m in live.models.list() if _listed_llm(m)]
        if not listed:
            pytest.fail(f"{self.provider_type} listed no LLM")
        return listed[0]

    @pytest.mark.anyio
    async def test_live_chat_completion(self, live: Any) -> None:
        completion = await live.chat.completions.create(
            model=await self.live_chat_model_id(live),
            messages=[
                {"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": "What color is a clear daytime sky?"},
            ],
            max_completion_tokens=self.live_max_tokens,
            temperature=0,
        )
        choice = completion.choices[0]
        assert choice.message.role == "assistant" and choice.message.content
        assert choice.finish_reason in ("stop", "length")
        assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0

    @pytest.mark.anyio
    async def test_live_streaming(self, live: Any) -> None:
        stream = await live.chat.completions.create(
            model=await self.live_chat_model_id(live),
            messages=[{"role": "user", "content": "Count from one to five in words."}],
            max_completion_tokens=self.live_max_tokens,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(chunks) > 1 and text.strip()
        finished = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finished and finished[-1] in ("stop", "length")

    @pytest.mark.anyio
    async def test_live_models_are_listed(self, live: Any) -> None:
        if not self.live_lists_models:
            pytest.skip(f"{self.provider_type} has no model list")
        listed = {m.id async for m in live.models.list() if _listed_llm(m)}
        assert listed, f"{self.provider_type} listed no LLM"
        if self.live_chat_model:
            assert f"{LIVE_PROVIDER_ID}/{self.live_chat_model}" in listed

    @pytest.mark.anyio
    async def test_live_embeddings(self, live: Any) -> None:
        if not self.live_embedding_model:
            pytest.skip(f"no live_embedding_model for {self.provider_type}")
        batch = await live.embeddings.create(model=LIVE_EMBEDDING, input=["a cat sat on the mat", "revenue grew"])
        assert [d.index for d in batch.data] == [0, 1]
        assert all(len(d.embedding) == self.live_embedding_dimension for d in batch.data)


def _listed_llm(model: Any) -> bool:
    """An LLM the live provider listed at start-up (not one the run config registered)."""
    return model.id.startswith(f"{LIVE_PROVIDER_ID}/") and getattr(model, "model_type", "llm") == "llm"
