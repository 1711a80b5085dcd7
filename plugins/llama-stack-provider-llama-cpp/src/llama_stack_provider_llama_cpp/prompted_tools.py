"""Automatic tool choice on chat formats that cannot call tools (e.g. ``gemma``): prompt, grammar, read-back.

The tools are described in the system text; the reply is constrained by a llama.cpp grammar to either one JSON call
object ``{"name": <a tool's name>, "arguments": <that tool's parameters>}`` or plain text that does not start with
``{`` (or whitespace). A reply that parses as such an object becomes an OpenAI tool call; anything else (prose, or a
call cut off by ``max_tokens``) stays an ordinary message.
"""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

CALL_RULE = "tool-reply-call"
TEXT_RULE = "tool-reply-text"
_ANY_RULE = "tool-reply-any"


def instructions(tools: list[dict[str, Any]]) -> str:
    """What the system text says about the tools."""
    lines = ["You can call these functions:"]
    for tool in tools:
        function = tool["function"]
        described = f": {function['description']}" if function.get("description") else ""
        lines.append(f"- {function['name']}{described}. Arguments (JSON schema): {json.dumps(function['parameters'])}")
    example = json.dumps({"name": tools[0]["function"]["name"], "arguments": {"...": "..."}})
    lines.append(
        "When a function can answer the user's request, call it: reply with only a JSON object such as "
        f"{example}, with the arguments the function needs. Otherwise answer in plain text."
    )
    return "\n".join(lines)


def call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON schema of one call object to any of the tools."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "name": {"const": tool["function"]["name"]},
                    "arguments": tool["function"]["parameters"],
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for tool in tools
        ]
    }


def grammar_text(tools: list[dict[str, Any]]) -> str:
    """GBNF for "one call object or plain text" (raises if llama-cpp cannot convert a tool's parameters)."""
    lines = []
    for line in json_schema_to_gbnf(json.dumps(call_schema(tools))).splitlines():
        if line.startswith("root ::="):
            line = f"{CALL_RULE} ::={line[len('root ::=') :]}"
        lines.append(line)
    return "\n".join(
        [
            f"root ::= {CALL_RULE} | {TEXT_RULE}",
            f"{TEXT_RULE} ::= ([^{{ \\t\\r\\n] {_ANY_RULE}*)?",
            f"{_ANY_RULE} ::= [^\\x00]",
            *lines,
        ]
    )


def read_reply(text: str, tools: list[dict[str, Any]]) -> dict[str, str] | None:
    """The call a reply makes (``{"name", "arguments"}`` with arguments as JSON text), or None for a message."""
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # cut off (max_tokens): the text stays a message
    names = {tool["function"]["name"] for tool in tools}
    if not isinstance(value, dict) or value.get("name") not in names or not isinstance(value.get("arguments"), dict):
        return None
    return {"name": value["name"], "arguments": json.dumps(value["arguments"])}
