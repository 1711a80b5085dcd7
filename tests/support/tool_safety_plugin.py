"""Small but real providers for the core's Safety and Tool Runtime routing tests.

- ``inline::word-shield`` (safety): flags text containing one of its configured words; a shield's ``params.words``
  replace them.
- ``inline::local-tools`` (tool_runtime): groups of Python tools run in the server: ``add`` (two integers),
  ``echo``, ``wait`` (sleeps), ``blob`` (returns ``size`` bytes of text), ``count_calls`` (how many calls of this tool
  group run at once, at most).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from pydantic import BaseModel, ConfigDict

from llama_stack_core.apis.common import DataList, ToolDef
from llama_stack_core.apis.resources import Shield, ToolGroup
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.safety import ModerationObject, ModerationRequest, RunShieldRequest, RunShieldResponse
from llama_stack_core.apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolInvocationResult
from llama_stack_core.errors import BadRequestError, NotFoundError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

_ids = itertools.count(1)


class WordShieldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] = ["forbidden"]


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, BaseModel):
        content = content.model_dump()
    if isinstance(content, dict):
        return [content.get("text") or ""]
    return [t for part in content or () for t in _texts(part)]


class WordShield:
    def __init__(self, config: WordShieldConfig) -> None:
        self.config = config
        self.shields: dict[str, list[str]] = {}

    async def register_shield(self, shield: Shield) -> None:
        words = (shield.params or {}).get("words", self.config.words)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise BadRequestError("params.words must be a list of strings", param="params.words")
        self.shields[shield.provider_resource_id or shield.identifier] = words

    async def unregister_shield(self, shield: Shield) -> None:
        self.shields.pop(shield.provider_resource_id or shield.identifier, None)

    def _found(self, shield_id: str, text: str) -> list[str]:
        if shield_id not in self.shields:
            raise NotFoundError(f"shield '{shield_id}' is not on this provider")
        return [w for w in self.shields[shield_id] if w in text.lower()]

    async def run_shield(self, request: RunShieldRequest) -> RunShieldResponse:
        text = " ".join(t for m in request.messages for t in _texts(m.content))
        found = self._found(request.shield_id, text)
        if not found:
            return RunShieldResponse()
        violation = {"violation_level": "error", "user_message": "blocked", "metadata": {"words": found}}
        return RunShieldResponse.model_validate({"violation": violation})

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        inputs = [request.input] if isinstance(request.input, str) else request.input
        results = []
        for item in inputs:
            found = self._found(request.model or "", item if isinstance(item, str) else " ".join(_texts(item)))
            results.append({"flagged": bool(found), "categories": {"word": bool(found)}})
        return ModerationObject.model_validate({"id": f"modr-{next(_ids)}", "model": request.model, "results": results})


class LocalToolsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


_NUMBER = {"type": "integer", "description": "an integer"}
TOOLS = [
    ToolDef(
        name="add",
        description="Add two integers.",
        input_schema={
            "type": "object",
            "properties": {"a": _NUMBER, "b": _NUMBER},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    ),
    ToolDef(
        name="echo",
        description="Echo the text.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    ToolDef(
        name="wait",
        description="Sleep, then answer.",
        input_schema={"type": "object", "properties": {"seconds": {"type": "number", "minimum": 0}}},
    ),
    ToolDef(
        name="blob",
        description="Answer with size bytes of text.",
        input_schema={"type": "object", "properties": {"size": {"type": "integer"}}, "required": ["size"]},
    ),
    ToolDef(name="count_calls", description="How many calls of this group ran at once, at most."),
]


class LocalTools:
    def __init__(self) -> None:
        self.groups: dict[str, ToolGroup] = {}
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}

    async def register_tool_group(self, tool_group: ToolGroup) -> None:
        if (tool_group.args or {}).get("refuse"):
            raise BadRequestError("this group refuses to register")
        self.groups[tool_group.provider_resource_id or tool_group.identifier] = tool_group

    async def unregister_tool_group(self, tool_group: ToolGroup) -> None:
        self.groups.pop(tool_group.provider_resource_id or tool_group.identifier, None)

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        group = request.tool_group_id or ""
        if group not in self.groups:
            raise NotFoundError(f"tool group '{group}' is not on this provider")
        only = (self.groups[group].args or {}).get("tools")
        return DataList[ToolDef](data=[t for t in TOOLS if only is None or t.name in only])

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        group, args = request.toolgroup_id or "", request.kwargs
        self.running[group] = self.running.get(group, 0) + 1
        self.most[group] = max(self.most.get(group, 0), self.running[group])
        try:
            if request.tool_name == "add":
                return ToolInvocationResult(content=str(args["a"] + args["b"]))
            if request.tool_name == "echo":
                return ToolInvocationResult(content=args["text"], metadata={"group": group})
            if request.tool_name == "wait":
                await asyncio.sleep(args.get("seconds", 0))
                return ToolInvocationResult(content="waited")
            if request.tool_name == "blob":
                return ToolInvocationResult(content="x" * args["size"])
            if request.tool_name == "count_calls":
                return ToolInvocationResult(content=str(self.most[group]))
            return ToolInvocationResult(error_message=f"unknown tool {request.tool_name}")
        finally:
            self.running[group] -= 1


def create_word_shield(config: WordShieldConfig, deps: dict[Api, Any]) -> WordShield:
    return WordShield(config)


def create_local_tools(config: LocalToolsConfig, deps: dict[Api, Any]) -> LocalTools:
    return LocalTools()


@hookimpl
def register_safety_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.safety,
            provider_type="inline::word-shield",
            config_class=WordShieldConfig,
            factory="tool_safety_plugin:create_word_shield",
        )
    ]


@hookimpl
def register_tool_runtime_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.tool_runtime,
            provider_type="inline::local-tools",
            config_class=LocalToolsConfig,
            factory="tool_safety_plugin:create_local_tools",
        )
    ]
