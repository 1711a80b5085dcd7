"""A chat completion as plain JSON data: an answer in any of a provider's forms (JSON bytes, dict, model), or a
stream's ``chat.completion.chunk`` events put back together into the ``chat.completion`` they spell out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import BaseModel


def as_data(answer: Any) -> dict[str, Any]:
    """A provider's answer (or chunk) as a JSON-ready dict."""
    if isinstance(answer, (bytes, str)):
        return orjson.loads(answer)
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json", exclude_none=True)
    return dict(answer)


class _Choice:
    """One choice's deltas, accumulated."""

    __slots__ = ("content", "finish_reason", "logprobs", "refusal", "role", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.logprobs: list[Any] = []

    def add(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        self.role = delta.get("role") or self.role
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("refusal"):
            self.refusal.append(delta["refusal"])
        for position, call in enumerate(delta.get("tool_calls") or ()):
            self._add_tool_call(call.get("index", position), call)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs") or {}
        self.logprobs.extend(logprobs.get("content") or ())

    def _add_tool_call(self, index: int, call: dict[str, Any]) -> None:
        known = self.tool_calls.setdefault(index, {"id": "", "type": "function", "name": [], "arguments": []})
        known["id"] = call.get("id") or known["id"]
        known["type"] = call.get("type") or known["type"]
        function = call.get("function") or {}
        if function.get("name"):
            known["name"].append(function["name"])
        if function.get("arguments"):
            known["arguments"].append(function["arguments"])

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": "".join(self.content) if self.content else None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": call["type"],
                    "function": {"name": "".join(call["name"]), "arguments": "".join(call["arguments"])},
                }
                for _, call in sorted(self.tool_calls.items())
            ]
        return message


def assemble_stream(chunks: Iterable[Any]) -> dict[str, Any]:
    """The ``chat.completion`` a stream of chunks spells out: content and refusal joined, tool calls put together
    by index (id, name, arguments), the last finish reason, and the usage of the chunk that carried it."""
    head: dict[str, Any] = {}
    choices: dict[int, _Choice] = {}
    usage = None
    for raw in chunks:
        chunk = as_data(raw)
        if not head:
            head = chunk
        for choice in chunk.get("choices") or ():
            choices.setdefault(choice.get("index", 0), _Choice()).add(choice)
        usage = chunk.get("usage") or usage
    completion: dict[str, Any] = {
        "id": head.get("id", ""),
        "object": "chat.completion",
        "created": head.get("created", 0),
        "model": head.get("model", ""),
        "choices": [
            {
                "index": index,
                "message": choice.message(),
                "finish_reason": choice.finish_reason,
                "logprobs": {"content": choice.logprobs} if choice.logprobs else None,
            }
            for index, choice in sorted(choices.items())
        ],
    }
    if usage is not None:
        completion["usage"] = usage
    if head.get("system_fingerprint"):
        completion["system_fingerprint"] = head["system_fingerprint"]
    return completion
