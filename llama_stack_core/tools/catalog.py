"""The tools of each registered tool group, listed from its provider and kept for a while: what ``/v1/tools`` lists
and what an invocation is checked against."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..apis.common import ToolDef
from ..apis.resources import ToolGroup
from ..apis.tool_runtime import RegisteredTool
from ..errors import ConflictError, ResourceNotFoundError, StackError
from .schema import ArgumentChecker, parameters_from_schema, schema_from_parameters

log = logging.getLogger(__name__)

GroupLister = Callable[[ToolGroup], Awaitable[list[ToolDef]]]


@dataclass(frozen=True)
class CatalogTool:
    tool: RegisteredTool
    arguments: ArgumentChecker


@dataclass(frozen=True)
class _Listing:
    group: ToolGroup
    tools: dict[str, CatalogTool]
    listed_at: float


def registered_tool(group: ToolGroup, tool: ToolDef) -> RegisteredTool:
    """A provider's tool definition as a tool of ``group``, in both schema shapes."""
    schema = tool.input_schema
    if schema is None and tool.parameters:
        schema = schema_from_parameters(tool.parameters)
    return RegisteredTool(
        identifier=tool.name,
        provider_resource_id=tool.name,
        provider_id=group.provider_id,
        toolgroup_id=group.identifier,
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters if tool.parameters is not None else parameters_from_schema(schema),
        input_schema=schema,
        output_schema=tool.output_schema,
        metadata=tool.metadata,
    )


class ToolCatalog:
    """Each group's tools, listed through ``lister`` at most once per ``ttl`` seconds (and again when the group is
    registered anew)."""

    def __init__(self, lister: GroupLister, ttl: float) -> None:
        self._lister = lister
        self._ttl = ttl
        self._listings: dict[str, _Listing] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, group: ToolGroup) -> _Listing | None:
        listing = self._listings.get(group.identifier)
        if listing is None or listing.group != group or time.monotonic() - listing.listed_at > self._ttl:
            return None
        return listing

    async def tools(self, group: ToolGroup) -> list[CatalogTool]:
        """The group's tools; an unreachable upstream raises the provider's error."""
        listing = self._fresh(group)
        if listing is None:
            async with self._locks.setdefault(group.identifier, asyncio.Lock()):
                listing = self._fresh(group)
                if listing is None:
                    listing = await self._list(group)
        return list(listing.tools.values())

    async def _list(self, group: ToolGroup) -> _Listing:
        tools = {}
        for definition in await self._lister(group):
            tool = registered_tool(group, definition)
            tools[tool.identifier] = CatalogTool(tool, ArgumentChecker(tool.identifier, tool.input_schema))
        listing = _Listing(group, tools, time.monotonic())
        self._listings[group.identifier] = listing
        return listing

    def forget(self, keep: set[str]) -> None:
        """Drop the listings of groups no longer registered."""
        for identifier in [i for i in self._listings if i not in keep]:
            del self._listings[identifier]
            self._locks.pop(identifier, None)

    async def find(self, name: str, groups: list[ToolGroup]) -> tuple[ToolGroup, CatalogTool]:
        """The one group among ``groups`` that has a tool called ``name``: 404 when none, 409 when several."""
        matches = [(g, listing.tools[name]) for g in groups if (listing := self._fresh(g)) and name in listing.tools]
        unlisted: list[str] = []
        if not matches:
            for group in groups:
                try:
                    tools = {t.tool.identifier: t for t in await self.tools(group)}
                except StackError as exc:
                    known = self._listings.get(group.identifier)
                    if len(groups) == 1 or (known is not None and known.group == group and name in known.tools):
                        raise  # the tool's own group is down: its error (502/504), not a 404
                    log.warning("tool group '%s' could not be listed: %s", group.identifier, exc.message)
                    unlisted.append(group.identifier)
                    continue
                if name in tools:
                    matches.append((group, tools[name]))
        if not matches:
            hint = "List tools with GET /v1/tools."
            if unlisted:
                hint += f" These tool groups could not be listed: {', '.join(unlisted)}."
            raise ResourceNotFoundError("Tool", name, hint=hint)
        if len(matches) > 1:
            names = ", ".join(g.identifier for g, _ in matches)
            raise ConflictError(f"tool '{name}' is served by several tool groups ({names}); pass toolgroup_id")
        return matches[0]
