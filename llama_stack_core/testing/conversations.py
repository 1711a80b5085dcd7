"""Conversations conformance tests every conversations provider runs: conversations and their items called for real
through the stack with the ``openai`` SDK, OpenAI's wire shapes, cursor pagination, concurrent appends, bad input.

Subclass :class:`ConversationsProviderTests`::

    class TestAcmeConversations(ConversationsProviderTests):
        provider_type = "inline::acme"
        provider_config = {}

Override the class-scoped fixture ``config_under_test`` when the config needs other fixtures (a database's DSN).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from .kit import StackKit

CONVERSATION_ID = re.compile(r"^conv_[0-9a-f]{48}$")


def user(text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **fields}


def assistant(text: str, **fields: Any) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {"type": "message", "role": "assistant", "content": content, **fields}


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def function_output(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def texts(items: list[Any]) -> list[str]:
    """The first text of each message item (SDK objects or dicts)."""
    out = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        out.append(item["content"][0]["text"])
    return out


class ConversationsProviderTests(StackKit):
    api = "conversations"

    # -- conversations -------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_create_retrieve_update_delete(self, openai: Any) -> None:
        import openai as sdk

        before = int(time.time())
        created = await openai.conversations.create(metadata={"topic": "weather"})
        assert CONVERSATION_ID.match(created.id), created.id
        assert created.object == "conversation"
        assert before <= created.created_at <= int(time.time()) + 1
        assert created.metadata == {"topic": "weather"}

        fetched = await openai.conversations.retrieve(created.id)
        assert fetched.model_dump() == created.model_dump()
        updated = await openai.conversations.update(created.id, metadata={"topic": "rain", "user": "u1"})
        assert updated.metadata == {"topic": "rain", "user": "u1"}
        assert updated.created_at == created.created_at
        assert (await openai.conversations.retrieve(created.id)).metadata == {"topic": "rain", "user": "u1"}
        cleared = await openai.conversations.update(created.id, metadata=None)
        assert cleared.metadata == {}

        deleted = await openai.conversations.delete(created.id)
        assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "conversation.deleted", True)
        with pytest.raises(sdk.NotFoundError):
            await openai.conversations.retrieve(created.id)

    @pytest.mark.anyio
    async def test_a_new_conversation_has_empty_metadata_and_no_items(self, openai: Any, http: Any) -> None:
        created = await openai.conversations.create()
        assert created.metadata == {}
        raw = await http.get(f"/v1/conversations/{created.id}/items")
        assert raw.status_code == 200, raw.text
        assert raw.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    @pytest.mark.anyio
    async def test_deleting_a_conversation_deletes_its_items(self, openai: Any, http: Any) -> None:
        first = await openai.conversations.create(items=[user("one"), user("two")])
        other = await openai.conversations.create(items=[user("kept")])
        item_id = (await openai.conversations.items.list(first.id)).data[0].id
        await openai.conversations.delete(first.id)
        assert (await http.get(f"/v1/conversations/{first.id}/items")).status_code == 404
        assert (await http.get(f"/v1/conversations/{first.id}/items/{item_id}")).status_code == 404
        assert texts((await openai.conversations.items.list(other.id)).data) == ["kept"]

    # -- items ---------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_items_of_several_kinds_keep_their_order_and_shape(self, openai: Any) -> None:
        items = [
            {"role": "system", "content": "Be brief."},
            user("What is the weather in Paris?"),
            function_call("call_1", "get_weather", '{"city": "Paris"}'),
            function_output("call_1", '{"sky": "clear"}'),
            assistant("It is clear in Paris.", id="msg_given_by_client"),
        ]
        conversation = await openai.conversations.create(items=items)
        listed = (await openai.conversations.items.list(conversation.id, order="asc")).data
        assert [item.type for item in listed] == [
            "message",
            "message",
            "function_call",
            "function_call_output",
            "message",
        ]
        system, question, call, output, answer = listed
        assert system.role == "system" and system.status == "completed"
        assert [(p.type, p.text) for p in system.content] == [("input_text", "Be brief.")]
        assert question.role == "user" and question.content[0].type == "input_text"
        assert question.id.startswith("msg_") and question.id != system.id
        assert (call.call_id, call.name, call.arguments) == ("call_1", "get_weather", '{"city": "Paris"}')
        assert call.id and output.id and call.id != output.id
        assert (output.call_id, output.output) == ("call_1", '{"sky": "clear"}')
        assert answer.id == "msg_given_by_client"
        assert answer.role == "assistant" and answer.content[0].type == "output_text"
        assert answer.content[0].text == "It is clear in Paris."

        newest_first = (await openai.conversations.items.list(conversation.id)).data
        assert [item.id for item in newest_first] == [item.id for item in reversed(listed)]

    @pytest.mark.anyio
    async def test_add_retrieve_and_delete_items(self, openai: Any) -> None:
        import openai as sdk

        conversation = await openai.conversations.create(items=[user("first")])
        added = await openai.conversations.items.create(
            conversation.id, items=[assistant("second"), {"role": "user", "content": "third"}]
        )
        assert added.object == "list"
        assert texts(added.data) == ["second", "third"]
        assert added.first_id == added.data[0].id and added.last_id == added.data[1].id
        assert added.data[1].content[0].type == "input_text"

        second = await openai.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
        assert second.model_dump() == added.data[0].model_dump()

        after_delete = await openai.conversations.items.delete(added.data[0].id, conversation_id=conversation.id)
        assert after_delete.id == conversation.id and after_delete.object == "conversation"
        with pytest.raises(sdk.NotFoundError):
            await openai.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
        remaining = (await openai.conversations.items.list(conversation.id, order="asc")).data
        assert texts(remaining) == ["first", "third"]

        later = await openai.conversations.items.create(conversation.id, items=[user("fourth")])
        remaining = (await openai.conversations.items.list(conversation.id, order="asc")).data
        assert texts(remaining) == ["first", "third", "fourth"]
        assert remaining[-1].id == later.data[0].id

    @pytest.mark.anyio
    async def test_a_given_id_the_conversation_has_is_refused(self, openai: Any, http: Any) -> None:
        conversation = await openai.conversations.create(items=[user("one", id="msg_mine")])
        again = await http.post(
            f"/v1/conversations/{conversation.id}/items", json={"items": [user("two", id="msg_mine")]}
        )
        assert again.status_code == 409, again.text
        assert "msg_mine" in again.json()["error"]["message"]
        twice = await http.post(
            f"/v1/conversations/{conversation.id}/items", json={"items": [user("a", id="msg_x"), user("b", id="msg_x")]}
        )
        assert twice.status_code == 400, twice.text
        assert texts((await openai.conversations.items.list(conversation.id)).data) == ["one"]
        # the same id is fine in another conversation
        other = await openai.conversations.create(items=[user("elsewhere", id="msg_mine")])
        assert (await openai.conversations.items.retrieve("msg_mine", conversation_id=other.id)).id == "msg_mine"

    @pytest.mark.anyio
    async def test_tool_items_and_other_kinds_are_kept_as_sent(self, openai: Any) -> None:
        """Items with ids of their own (file search, reasoning) come back whole; ``include`` (sent by the SDK as
        ``include[]=...``) is accepted."""
        search = {
            "type": "file_search_call",
            "id": "fs_1",
            "queries": ["paris weather"],
            "status": "completed",
            "results": [{"file_id": "file-1", "text": "sunny", "score": 0.9}],
        }
        reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]}
        conversation = await openai.conversations.create(items=[search, reasoning])
        include = ["file_search_call.results", "message.output_text.logprobs"]
        listed = (await openai.conversations.items.list(conversation.id, order="asc", include=include)).data
        assert [item.type for item in listed] == ["file_search_call", "reasoning"]
        assert listed[0].id == "fs_1" and listed[0].queries == ["paris weather"]
        assert listed[0].results[0].text == "sunny"
        assert listed[1].id.startswith("rs_") and listed[1].summary[0].text == "thinking"
        added = await openai.conversations.items.create(conversation.id, items=[user("more")], include=include)
        fetched = await openai.conversations.items.retrieve("fs_1", conversation_id=conversation.id, include=include)
        assert fetched.results[0].score == 0.9
        assert added.data[0].role == "user"

    # -- pagination ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_cursor_pagination_in_both_orders(self, openai: Any, http: Any) -> None:
        conversation = await openai.conversations.create(items=[user(f"m{n}") for n in range(3)])
        await openai.conversations.items.create(conversation.id, items=[user(f"m{n}") for n in range(3, 7)])
        url = f"/v1/conversations/{conversation.id}/items"

        page = (await http.get(url, params={"limit": 3})).json()
        assert page["object"] == "list" and page["has_more"] is True
        assert texts(page["data"]) == ["m6", "m5", "m4"]
        assert (page["first_id"], page["last_id"]) == (page["data"][0]["id"], page["data"][-1]["id"])
        rest = (await http.get(url, params={"limit": 3, "after": page["last_id"]})).json()
        assert texts(rest["data"]) == ["m3", "m2", "m1"] and rest["has_more"] is True
        last = (await http.get(url, params={"limit": 3, "after": rest["last_id"]})).json()
        assert texts(last["data"]) == ["m0"] and last["has_more"] is False

        asc = (await http.get(url, params={"limit": 4, "order": "asc"})).json()
        assert texts(asc["data"]) == ["m0", "m1", "m2", "m3"] and asc["has_more"] is True
        tail = (await http.get(url, params={"order": "asc", "after": asc["data"][1]["id"]})).json()
        assert texts(tail["data"]) == ["m2", "m3", "m4", "m5", "m6"] and tail["has_more"] is False
        previous = (await http.get(url, params={"order": "asc", "before": asc["data"][3]["id"], "limit": 2})).json()
        assert texts(previous["data"]) == ["m1", "m2"] and previous["has_more"] is True

        # the SDK's auto-pagination follows last_id
        walked = [item async for item in openai.conversations.items.list(conversation.id, limit=2, order="asc")]
        assert texts(walked) == [f"m{n}" for n in range(7)]

    # -- concurrency ---------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_concurrent_appends_all_land_each_in_order(self, openai: Any) -> None:
        conversation = await openai.conversations.create()

        async def append(writer: int) -> None:
            batch = [user(f"w{writer}-{n}") for n in range(3)]
            await openai.conversations.items.create(conversation.id, items=batch)

        await asyncio.gather(*(append(writer) for writer in range(8)))
        listed = texts((await openai.conversations.items.list(conversation.id, order="asc", limit=100)).data)
        assert sorted(listed) == sorted(f"w{w}-{n}" for w in range(8) for n in range(3))
        for start in range(0, len(listed), 3):  # each append's items are contiguous and in order
            writer = listed[start].split("-")[0]
            assert listed[start : start + 3] == [f"{writer}-{n}" for n in range(3)]

    # -- bad input -----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unknown_conversation_or_item_is_404_naming_it(self, openai: Any, http: Any) -> None:
        missing = "conv_" + "0" * 48
        base = f"/v1/conversations/{missing}"
        answers = [
            await http.get(base),
            await http.post(base, json={"metadata": {"a": "b"}}),
            await http.delete(base),
            await http.get(f"{base}/items"),
            await http.post(f"{base}/items", json={"items": [user("hi")]}),
            await http.get(f"{base}/items/msg_1"),
            await http.delete(f"{base}/items/msg_1"),
        ]
        for answer in answers:
            assert answer.status_code == 404, answer.text
            assert missing in answer.json()["error"]["message"]

        conversation = await openai.conversations.create(items=[user("hi")])
        for answer in (
            await http.get(f"/v1/conversations/{conversation.id}/items/msg_nope"),
            await http.delete(f"/v1/conversations/{conversation.id}/items/msg_nope"),
        ):
            assert answer.status_code == 404, answer.text
            assert "msg_nope" in answer.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_missing_or_malformed_bodies_are_422(self, openai: Any, http: Any) -> None:
        conversation = await openai.conversations.create()
        items_url = f"/v1/conversations/{conversation.id}/items"
        for body in (
            {},
            {"items": []},
            {"items": [{"type": "message", "content": "no role"}]},
            {"items": [{"type": "function_call", "name": "f"}]},
            {"items": "not a list"},
        ):
            answer = await http.post(items_url, json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["error"]["message"]
        no_metadata = await http.post(f"/v1/conversations/{conversation.id}", json={})
        assert no_metadata.status_code == 422, no_metadata.text
        bad_items = await http.post("/v1/conversations", json={"items": [{"role": "robot", "content": "x"}]})
        assert bad_items.status_code == 422, bad_items.text
        bad_order = await http.get(items_url, params={"order": "sideways"})
        assert bad_order.status_code == 422, bad_order.text
        assert (await openai.conversations.items.list(conversation.id)).data == []

    @pytest.mark.anyio
    async def test_metadata_over_openai_limits_is_400(self, openai: Any, http: Any) -> None:
        too_many = {f"k{n}": "v" for n in range(17)}
        for metadata in (too_many, {"k" * 65: "v"}, {"k": "v" * 513}):
            answer = await http.post("/v1/conversations", json={"metadata": metadata})
            assert answer.status_code == 400, answer.text
            assert "metadata" in answer.json()["error"]["message"]
        conversation = await openai.conversations.create(metadata={f"k{n}": "v" * 512 for n in range(16)})
        refused = await http.post(f"/v1/conversations/{conversation.id}", json={"metadata": too_many})
        assert refused.status_code == 400, refused.text
        assert len((await openai.conversations.retrieve(conversation.id)).metadata) == 16

    @pytest.mark.anyio
    async def test_an_unknown_after_cursor_is_refused(self, openai: Any, http: Any) -> None:
        conversation = await openai.conversations.create(items=[user("hi")])
        answer = await http.get(f"/v1/conversations/{conversation.id}/items", params={"after": "msg_unknown"})
        assert answer.status_code == 400, answer.text
        assert "msg_unknown" in answer.json()["error"]["message"]
