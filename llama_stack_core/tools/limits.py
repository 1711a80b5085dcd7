"""Bounds on tool calls: a timeout (waiting for a slot included), a concurrency limit per group, a result size cap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..apis.resources import ToolGroup
from ..apis.tool_runtime import ToolInvocationResult
from ..config.model import ToolRuntimeSettings
from ..errors import UpstreamError, UpstreamTimeoutError


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float
    max_result_bytes: int
    max_concurrent_invocations: int


class InvocationGate:
    """Runs tool calls within their group's limits (the group's own ``limits``, else the run config's)."""

    def __init__(self, settings: ToolRuntimeSettings) -> None:
        self._settings = settings
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}

    def limits(self, group: ToolGroup) -> Limits:
        own, default = group.limits, self._settings
        return Limits(
            timeout_seconds=(own and own.timeout_seconds) or default.invocation_timeout_seconds,
            max_result_bytes=(own and own.max_result_bytes) or default.max_result_bytes,
            max_concurrent_invocations=(own and own.max_concurrent_invocations) or default.max_concurrent_invocations,
        )

    async def run(
        self, group: ToolGroup, tool_name: str, call: Callable[[], Awaitable[ToolInvocationResult]]
    ) -> ToolInvocationResult:
        limits = self.limits(group)
        key = (group.identifier, limits.max_concurrent_invocations)
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(limits.max_concurrent_invocations)
        try:
            async with asyncio.timeout(limits.timeout_seconds):
                async with slots:
                    result = await call()
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"tool '{tool_name}' of tool group '{group.identifier}' did not answer within "
                f"{limits.timeout_seconds:g} s"
            ) from None
        size = len(result.__pydantic_serializer__.to_json(result))
        if size > limits.max_result_bytes:
            raise UpstreamError(
                f"tool '{tool_name}' of tool group '{group.identifier}' returned {size} bytes, more than the "
                f"limit of {limits.max_result_bytes} (tool_runtime.max_result_bytes, or the group's limits)"
            )
        return result
