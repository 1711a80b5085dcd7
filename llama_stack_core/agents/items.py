"""Responses items and chat messages: what the model is shown for a response's input, and ids for new items."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from pydantic import TypeAdapter

from ..apis.response_items import (
    FunctionToolCall,
    FunctionToolCallOutput,
    McpCall,
    ResponseItem,
    ResponseMessage,
)

ITEMS = TypeAdapter(list[ResponseItem])

_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def input_items(value: str | list[ResponseItem]) -> list[ResponseItem]:
    """A request's ``input`` as items, each with an id (a string is one user message)."""
    items: list[ResponseItem] = [ResponseMessage(role="user", content=value)] if isinstance(value, str) else value
    return [with_id(item) for item in items]


def with_id(item: ResponseItem) -> ResponseItem:
    if getattr(item, "id", None):
        return item
    return item.model_copy(update={"id": new_id(_PREFIXES.get(item.type, "item"))})


def text_of(content: str | list[Any]) -> str:
    """The text of a message's content (its text, output_text and refusal parts, joined)."""
    if isinstance(content, str):
        return content
    return "".join(getattr(p, "text", None) or getattr(p, "refusal", None) or "" for p in content)


def _chat_content(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """A message's content for a chat model: a string when it is all text, else OpenAI chat parts."""
    if isinstance(content, str) or all(p.type in ("input_text", "output_text", "refusal") for p in content):
        return text_of(content)
    parts: list[dict[str, Any]] = []
    for part in content:
        if part.type == "input_image" and part.image_url:
            parts.append({"type": "image_url", "image_url": {"url": part.image_url, "detail": part.detail}})
        elif part.type in ("input_text", "output_text"):
            parts.append({"type": "text", "text": part.text})
    return parts


def chat_messages(items: list[ResponseItem]) -> list[dict[str, Any]]:
    """Items as chat messages: messages by role, function and MCP calls as an assistant's tool calls, their outputs
    as tool messages. Listings, approvals and other items carry nothing for the model."""
    messages: list[dict[str, Any]] = []

    def tool_call(call_id: str, name: str, arguments: str) -> None:
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and last.get("content") is None:
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})

    for item in items:
        if isinstance(item, ResponseMessage):
            role = "system" if item.role == "developer" else item.role
            messages.append({"role": role, "content": _chat_content(item.content)})
        elif isinstance(item, FunctionToolCall):
            tool_call(item.call_id, item.name, item.arguments)
        elif isinstance(item, FunctionToolCallOutput):
            output = item.output if isinstance(item.output, str) else text_of_parts(item.output)
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": output})
        elif isinstance(item, McpCall):
            tool_call(item.id, item.name, item.arguments)
            messages.append({"role": "tool", "tool_call_id": item.id, "content": item.output or _text(item.error)})
    return messages


def _text(error: dict[str, Any] | str | None) -> str:
    """An MCP call's error as the model reads it: OpenAI's error object as JSON, a string as sent."""
    if isinstance(error, dict):
        return orjson.dumps(error).decode()
    return error or ""


def text_of_parts(parts: list[dict[str, Any]]) -> str:
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
