"""OpenAI chat messages -> the plain dicts llama-cpp-python's chat formats render (pure Python, no llama_cpp).

Most llama-cpp chat formats know only system/user/assistant messages with string content, and drop the rest
silently. So: text parts are joined, other parts are refused; system and developer messages are merged into one
leading system message (for ``gemma``, whose template has no system turn, into the first user turn); tool results
become user turns; an assistant's tool calls become JSON text, except for ``chatml-function-calling``, which renders
them itself.
"""

from __future__ import annotations

import json
from typing import Any

from llama_stack_core.errors import BadRequestError

TOOL_CALLING_FORMAT = "chatml-function-calling"
NO_SYSTEM_TURN_FORMATS = frozenset({"gemma"})


def text_of(content: Any, where: str) -> str:
    """The text of a message's content (a string or a list of parts); non-text parts are a 400."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for index, part in enumerate(content):
        if part.type != "text":
            raise BadRequestError(
                f"{where}.{index}: '{part.type}' content is not supported; llama-cpp serves text-only models",
                param=f"{where}.{index}",
            )
        texts.append(part.text)
    return "\n".join(texts)


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def normalize(messages: list[Any], chat_format: str | None, instructions: str | None = None) -> list[dict[str, Any]]:
    """Messages as llama-cpp's ``create_chat_completion`` should see them for this chat format.

    ``instructions`` (e.g. how to call a forced tool) is appended to the system text.
    """
    system_texts: list[str] = []
    turns: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        where = f"messages.{index}.content"
        if message.role in ("system", "developer"):
            system_texts.append(text_of(message.content, where))
        elif message.role == "user":
            turns.append({"role": "user", "content": text_of(message.content, where)})
        elif message.role == "assistant":
            content = text_of(message.content, where)
            calls = message.tool_calls or []
            call_names.update((call.id, call.function.name) for call in calls)
            if calls and chat_format == TOOL_CALLING_FORMAT:
                turns.append(
                    {
                        "role": "assistant",
                        "content": content or None,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.function.name, "arguments": c.function.arguments},
                            }
                            for c in calls
                        ],
                    }
                )
            else:
                rendered = [
                    json.dumps({"name": c.function.name, "arguments": _arguments(c.function.arguments)}) for c in calls
                ]
                turns.append({"role": "assistant", "content": "\n".join(t for t in (content, *rendered) if t)})
        else:  # tool
            name = call_names.get(message.tool_call_id)
            label = f"Result of {name}" if name else f"Result of tool call {message.tool_call_id}"
            turns.append({"role": "user", "content": f"{label}:\n{text_of(message.content, where)}"})
    if instructions:
        system_texts.append(instructions)
    system = "\n\n".join(text for text in system_texts if text)
    if chat_format in NO_SYSTEM_TURN_FORMATS:
        if system:
            first_user = next((turn for turn in turns if turn["role"] == "user"), None)
            if first_user is None:
                turns.insert(0, {"role": "user", "content": system})
            else:
                first_user["content"] = f"{system}\n\n{first_user['content']}"
    elif system or chat_format == TOOL_CALLING_FORMAT:
        # chatml-function-calling lists the tools inside the system turn, so it needs one.
        turns.insert(0, {"role": "system", "content": system})
    return turns


def forced_tool_instructions(tool: dict[str, Any]) -> str:
    """What the prompt says when a tool call is forced on a chat format that does not render tools."""
    function = tool["function"]
    described = f" ({function['description']})" if function.get("description") else ""
    return (
        f"Call the function {function['name']}{described}. Reply with only its arguments, as a JSON object "
        f"matching this JSON schema: {json.dumps(function['parameters'])}"
    )
