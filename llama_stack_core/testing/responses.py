"""Responses conformance tests every responses provider runs: OpenAI's Responses API through the stack with the real
``openai`` SDK, against a scripted model (:class:`~llama_stack_core.testing.scripted.ScriptedServer` behind
``remote::vllm``) that streams the exact chat-completion wire format, so multi-step loops are deterministic.

Subclass :class:`ResponsesProviderTests` and name the provider::

    class TestAcmeResponses(ResponsesProviderTests):
        provider_type = "inline::acme"
        conversations_provider = {"provider_type": "inline::builtin", "config": {}}   # or None: skips those tests
        extra_plugins = [acme_plugin]

The model is one server for the class: a test scripts its turns with :func:`text_turn` / :func:`call_turn` (and
``model.reply``) before it calls, and reads ``model.requests`` for what the engine sent; the script is reset before
every test. Objects and events are checked against the ``openai`` SDK's own types (:func:`assert_sdk_response`,
:func:`assert_sdk_event`), so a field the SDK requires is never missing.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .kit import StackKit
from .scripted import ScriptedServer, call_turn, text_turn
from .waiting import eventually

MODEL = "scripted-llm"
#: A second model on the same upstream, for the list-by-model test (nothing else creates responses with it).
LIST_MODEL = "scripted-llm-listed"

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def scripted_inference(model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
    """The ``inference`` run-config entry of a scripted model behind ``remote::vllm`` (model ``upstream``)."""
    config = {"base_url": model.base_url, "refresh_models": False}
    return {"inference": [{"provider_id": "scripted", "provider_type": "remote::vllm", "config": config}]}


def scripted_models(*model_ids: str) -> list[dict[str, Any]]:
    """Run-config ``models`` entries serving these ids from the scripted model."""
    return [{"model_id": m, "provider_id": "scripted", "provider_model_id": "upstream"} for m in model_ids]


# == the SDK's view ==================================================================================================


def assert_sdk_response(data: dict[str, Any]) -> Any:
    """Validate a response object (as JSON) with the ``openai`` SDK's ``Response`` type, strictly: every field it
    requires is present and well typed. Returns the SDK object."""
    from openai.types.responses import Response

    return Response.model_validate(data)


def assert_sdk_event(data: dict[str, Any]) -> Any:
    """Validate one stream event (as JSON) with the SDK's ``ResponseStreamEvent`` union, by its ``type``."""
    kinds = _sdk_event_types()
    assert data.get("type") in kinds, f"the SDK knows no event of type {data.get('type')!r}"
    return kinds[data["type"]].model_validate(data)


@functools.cache
def _sdk_event_types() -> dict[str, Any]:
    from openai.types.responses import ResponseStreamEvent

    union = typing.get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], PropertyInfo(discriminator="type")]
    kinds = {}
    for event_class in typing.get_args(union):
        (kind,) = typing.get_args(event_class.model_fields["type"].annotation)
        kinds[kind] = event_class
    return kinds


async def sse_events(http: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a streamed create and read the raw ``data:`` events, as JSON."""
    events = []
    async with http.stream("POST", "/v1/responses", json={**body, "stream": True}) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


async def settled(http: Any, response_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll a background response until it is no longer queued or in progress; the stored object."""

    async def done() -> dict[str, Any]:
        body = (await http.get(f"/v1/responses/{response_id}")).json()
        assert body["status"] not in ("queued", "in_progress"), body["status"]
        return body

    return await eventually(done, timeout=timeout, what=f"response {response_id} to finish")


# == the tests =======================================================================================================


class ResponsesProviderTests(StackKit):
    api = "responses"
    #: The conversations provider (``provider_type`` and ``config``) the conversation tests use; None skips them.
    conversations_provider: ClassVar[dict[str, Any] | None] = None

    # -- fixtures ------------------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> Iterator[ScriptedServer]:
        """The scripted model, one for the class."""
        with ScriptedServer() as server:
            yield server

    @pytest.fixture(autouse=True)
    def _fresh_script(self, model: ScriptedServer) -> None:
        model.reset()

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path, model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
        """The other providers: ``supporting_providers``, the scripted model and the conversations provider."""
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.update(scripted_inference(model))
        if cls.conversations_provider is not None:
            providers["conversations"] = [{"provider_id": "conversations", **cls.conversations_provider}]
        return providers

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        return {"models": scripted_models(MODEL, LIST_MODEL)}

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, openai: Any) -> Any:
        """The ``openai`` SDK's async client on the stack."""
        return openai

    @staticmethod
    def sent_messages(model: ScriptedServer, index: int = -1) -> list[dict[str, Any]]:
        """The chat messages of a request the engine sent the model."""
        return model.requests[index].json["messages"]

    # -- answers ------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_text_answer_is_returned_and_stored(self, client: Any, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("Hello", ", world"))
        response = await client.responses.create(model=MODEL, input="hi", instructions="Be brief.")
        assert response.status == "completed"
        assert response.output_text == "Hello, world"
        assert response.usage.input_tokens == 7 and response.usage.output_tokens == 2
        assert self.sent_messages(model) == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ]
        assert model.requests[-1].json["stream"] is True
        stored = await client.responses.retrieve(response.id)
        assert stored.output_text == "Hello, world" and stored.instructions == "Be brief."
        items = await client.responses.input_items.list(response.id)
        assert [(i.type, i.role) for i in items.data] == [("message", "user")]

    @pytest.mark.anyio
    async def test_objects_have_every_field_the_sdk_requires(self, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("ok"))
        created = await http.post("/v1/responses", json={"model": MODEL, "input": "hi", "tools": [WEATHER]})
        assert created.status_code == 200, created.text
        body = created.json()
        sdk = assert_sdk_response(body)
        assert sdk.object == "response" and sdk.status == "completed"
        assert sdk.tool_choice == "auto" and sdk.parallel_tool_calls is True
        assert [t.name for t in sdk.tools] == ["get_weather"]
        assert body["incomplete_details"] is None and body["error"] is None
        assert sdk.usage.input_tokens_details.cached_tokens == 0
        assert sdk.usage.output_tokens_details.reasoning_tokens == 0
        stored = (await http.get(f"/v1/responses/{body['id']}")).json()
        assert_sdk_response(stored)

    # -- streaming ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_stream_events_come_in_openais_order(self, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("Hel", "lo"))
        events = await sse_events(http, {"model": MODEL, "input": "hi"})
        assert [e["type"] for e in events] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        parsed = [assert_sdk_event(e) for e in events]
        assert parsed[0].response.status == "in_progress" and parsed[0].response.output == []
        assert parsed[-1].response.output_text == "Hello"
        item_ids = {e["item_id"] for e in events if "item_id" in e}
        assert item_ids == {events[2]["item"]["id"]}
        assert {e["response"]["id"] for e in events if "response" in e} == {events[0]["response"]["id"]}

    @pytest.mark.anyio
    async def test_the_sdk_stream_helper_gives_the_final_response(self, client: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("one ", "two"))
        async with client.responses.stream(model=MODEL, input="count") as stream:
            deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
            final = await stream.get_final_response()
        assert deltas == ["one ", "two"]
        assert final.output_text == "one two" and final.status == "completed"

    # -- function tools -----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_function_call_goes_to_the_caller_and_resumes(self, client: Any, model: ScriptedServer) -> None:
        model.reply(stream=call_turn("get_weather", {"city": "Paris"}))
        first = await client.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER])
        calls = [item for item in first.output if item.type == "function_call"]
        assert first.status == "completed"
        assert len(calls) == 1 and calls[0].name == "get_weather"
        assert json.loads(calls[0].arguments) == {"city": "Paris"}
        assert model.requests[-1].json["tools"][0]["function"]["name"] == "get_weather"
        model.reply(stream=text_turn("Sunny in Paris."))
        second = await client.responses.create(
            model=MODEL,
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"sky": "clear"}'}],
            tools=[WEATHER],
        )
        assert second.output_text == "Sunny in Paris." and second.previous_response_id == first.id
        sent = self.sent_messages(model)
        assert sent[0] == {"role": "user", "content": "Weather in Paris?"}
        assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == calls[0].call_id
        assert sent[2] == {"role": "tool", "tool_call_id": calls[0].call_id, "content": '{"sky": "clear"}'}

    @pytest.mark.anyio
    async def test_streamed_function_call_arguments(self, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=call_turn("get_weather", {"city": "Rome"}))
        events = await sse_events(http, {"model": MODEL, "input": "Rome?", "tools": [WEATHER]})
        for event in events:
            assert_sdk_event(event)
        kinds = [e["type"] for e in events]
        assert kinds[2] == "response.output_item.added" and events[2]["item"]["type"] == "function_call"
        deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert "".join(deltas) == done["arguments"] == json.dumps({"city": "Rome"})
        assert kinds[-2:] == ["response.output_item.done", "response.completed"]
        assert [e["sequence_number"] for e in events] == list(range(len(events)))

    # -- chaining and conversations -----------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_chaining_carries_the_transcript(self, client: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("I am Ada."))
        first = await client.responses.create(model=MODEL, input="Who are you?", instructions="You are Ada.")
        model.reply(stream=text_turn("You asked who I am."))
        await client.responses.create(model=MODEL, input="What did I ask?", previous_response_id=first.id)
        assert self.sent_messages(model) == [
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": "I am Ada."},
            {"role": "user", "content": "What did I ask?"},
        ]

    @pytest.mark.anyio
    async def test_a_conversation_gets_the_input_and_output(self, client: Any, model: ScriptedServer) -> None:
        if self.conversations_provider is None:
            pytest.skip("no conversations provider")
        first = {"type": "message", "role": "user", "content": "Earlier."}
        conversation = await client.conversations.create(items=[first])
        model.reply(stream=text_turn("Noted."))
        response = await client.responses.create(model=MODEL, input="Now.", conversation=conversation.id)
        assert response.conversation.id == conversation.id
        assert [m["content"] for m in self.sent_messages(model)] == ["Earlier.", "Now."]
        items = await client.conversations.items.list(conversation.id, order="asc")
        assert [(i.role, i.content[0].text) for i in items.data] == [
            ("user", "Earlier."),
            ("user", "Now."),
            ("assistant", "Noted."),
        ]

    # -- stored responses ---------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_stored_responses_are_listed_paged_and_deleted(
        self, client: Any, http: Any, model: ScriptedServer
    ) -> None:
        ids = []
        for word in ("a", "b", "c"):
            model.reply(stream=text_turn(word))
            ids.append((await client.responses.create(model=LIST_MODEL, input=word)).id)
        model.reply(stream=text_turn("unstored"))
        unstored = await client.responses.create(model=LIST_MODEL, input="x", store=False)
        page = (await http.get("/v1/responses", params={"limit": 2, "model": LIST_MODEL})).json()
        assert [r["id"] for r in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
        assert page["first_id"] == ids[2] and page["last_id"] == ids[1]
        rest = (await http.get("/v1/responses", params={"limit": 2, "after": ids[1], "model": LIST_MODEL})).json()
        assert [r["id"] for r in rest["data"]] == [ids[0]] and rest["has_more"] is False
        assert rest["data"][0]["input"][0]["content"] == "a"
        ascending = (await http.get("/v1/responses", params={"order": "asc", "model": LIST_MODEL})).json()
        assert [r["id"] for r in ascending["data"]] == ids
        for listed in ascending["data"]:
            assert_sdk_response({k: v for k, v in listed.items() if k != "input"})
        deleted = await client.responses.delete(ids[0])
        assert deleted is None or getattr(deleted, "id", ids[0]) == ids[0]
        with pytest.raises(Exception) as gone:
            await client.responses.retrieve(ids[0])
        assert type(gone.value).__name__ == "NotFoundError"
        with pytest.raises(Exception) as never_stored:
            await client.responses.retrieve(unstored.id)
        assert type(never_stored.value).__name__ == "NotFoundError"
        assert (await http.delete(f"/v1/responses/{ids[0]}")).status_code == 404

    @pytest.mark.anyio
    async def test_input_items_page_in_both_orders(self, client: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("fine"))
        words = ["one", "two", "three"]
        given = [{"type": "message", "role": "user", "content": w, "id": f"msg_{w}"} for w in words]
        response = await client.responses.create(model=MODEL, input=given)
        asc = await client.responses.input_items.list(response.id, order="asc")
        assert [i.id for i in asc.data] == [f"msg_{w}" for w in words]
        desc = await client.responses.input_items.list(response.id, order="desc", limit=2)
        assert [i.id for i in desc.data] == ["msg_three", "msg_two"] and desc.has_more is True
        after = await client.responses.input_items.list(response.id, order="desc", after="msg_two")
        assert [i.id for i in after.data] == ["msg_one"]

    # -- bad input ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unknown_names_are_404_before_the_model_runs(self, http: Any, model: ScriptedServer) -> None:
        cases = [
            ({"model": "no-such-model", "input": "hi"}, "no-such-model"),
            ({"model": MODEL, "input": "hi", "previous_response_id": "resp_missing"}, "resp_missing"),
        ]
        if self.conversations_provider is not None:
            cases.append(({"model": MODEL, "input": "hi", "conversation": "conv_missing"}, "conv_missing"))
        for body, name in cases:
            answer = await http.post("/v1/responses", json=body)
            assert answer.status_code == 404, answer.text
            assert name in answer.json()["error"]["message"]
        for path in ("/v1/responses/resp_missing", "/v1/responses/resp_missing/input_items"):
            missing = await http.get(path)
            assert missing.status_code == 404 and "resp_missing" in missing.text
        assert (await http.post("/v1/responses/resp_missing/cancel")).status_code == 404
        assert model.requests == []  # nothing reached the model

    @pytest.mark.anyio
    async def test_malformed_requests_are_422_naming_the_field(self, http: Any, model: ScriptedServer) -> None:
        for body, field in [
            ({"model": MODEL}, "input"),
            ({"input": "hi"}, "model"),
            ({"model": MODEL, "input": "hi", "temperature": 5}, "temperature"),
            ({"model": MODEL, "input": "hi", "tools": [{"type": "function"}]}, "name"),
            ({"model": MODEL, "input": "hi", "tools": [{"type": "no-such-tool"}]}, "tools"),
        ]:
            answer = await http.post("/v1/responses", json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert field in answer.text
        assert model.requests == []

    # -- faults -------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_an_upstream_failure_fails_the_response(self, http: Any, model: ScriptedServer) -> None:
        model.reply(status=500, json={"error": {"message": "boom"}})
        response = (await http.post("/v1/responses", json={"model": MODEL, "input": "hi"})).json()
        assert response["status"] == "failed"
        assert "boom" in response["error"]["message"] and response["error"]["code"]
        assert_sdk_response(response)
        assert (await http.get(f"/v1/responses/{response['id']}")).json()["status"] == "failed"

    @pytest.mark.anyio
    async def test_an_upstream_failure_mid_stream_ends_with_response_failed(
        self, http: Any, model: ScriptedServer
    ) -> None:
        model.reply(status=500, json={"error": {"message": "boom"}})
        events = await sse_events(http, {"model": MODEL, "input": "hi"})
        assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.failed"]
        assert "boom" in assert_sdk_event(events[-1]).response.error.message

    # -- background ---------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_background_response_is_queued_then_completes(self, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("Later", "."), hold_after=2)
        created = await http.post("/v1/responses", json={"model": MODEL, "input": "hi", "background": True})
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["status"] == "queued" and body["background"] is True
        assert_sdk_response(body)

        async def running() -> bool:
            polled = (await http.get(f"/v1/responses/{body['id']}")).json()
            assert polled["status"] == "in_progress" and model.requests, polled["status"]
            return True

        await eventually(running, what="the background response to run")
        model.release()
        done = await settled(http, body["id"])
        assert done["status"] == "completed" and done["output"][0]["content"][0]["text"] == "Later."
        assert_sdk_response(done)

    @pytest.mark.anyio
    async def test_a_background_response_is_cancelled(self, client: Any, http: Any, model: ScriptedServer) -> None:
        model.reply(stream=text_turn("never", " finished"), hold_after=2)
        created = await client.responses.create(model=MODEL, input="hi", background=True)
        await eventually(lambda: model.requests, what="the model call")
        cancelled = await client.responses.cancel(created.id)
        assert cancelled.status == "cancelled"
        await eventually(lambda: model.requests[-1].closed_early, what="the model stream to be closed")
        model.release()
        stored = await client.responses.retrieve(created.id)
        assert stored.status == "cancelled" and stored.output_text == ""
        again = await client.responses.cancel(created.id)  # cancelling a finished one answers it as it is
        assert again.status == "cancelled"

    @pytest.mark.anyio
    async def test_background_needs_store_and_only_background_is_cancelled(
        self, http: Any, model: ScriptedServer
    ) -> None:
        refused = await http.post(
            "/v1/responses", json={"model": MODEL, "input": "hi", "background": True, "store": False}
        )
        assert refused.status_code == 400 and "store" in refused.text
        model.reply(stream=text_turn("now"))
        plain = (await http.post("/v1/responses", json={"model": MODEL, "input": "hi"})).json()
        not_background = await http.post(f"/v1/responses/{plain['id']}/cancel")
        assert not_background.status_code == 400 and "background" in not_background.text
        assert len(model.requests) == 1
