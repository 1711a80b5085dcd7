"""Two test plugins for the stop sequence, writing what happens into ``EVENTS``.

- ``LOWER`` offers ``inline::lower`` (inference): records its shutdown and whether it is closed.
- ``UPPER`` offers ``inline::upper`` (safety, depends on inference): runs background work through
  :class:`~llama_stack_core.background.BackgroundTasks` that uses the inference provider when it finishes;
  ``config.work_seconds`` sets how long that work takes, ``config.hang_on_shutdown`` makes its shutdown never return.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from llama_stack_core.apis.routes import Api
from llama_stack_core.background import BackgroundTasks
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

EVENTS: list[str] = []


class LowerConfig(BaseModel):
    pass


class UpperConfig(BaseModel):
    work_seconds: float = 0.1
    hang_on_shutdown: bool = False


class Lower:
    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        self.closed = False

    async def shutdown(self) -> None:
        self.closed = True
        EVENTS.append(f"{self.provider_id}: shutdown")


class Upper:
    def __init__(self, config: UpperConfig, inference: Any) -> None:
        self.config = config
        self.inference = inference
        self.background = BackgroundTasks("upper")

    def start_work(self, name: str) -> asyncio.Task[None]:
        return self.background.spawn(self._work(name), name=name)

    async def _work(self, name: str) -> None:
        try:
            await asyncio.sleep(self.config.work_seconds)
        except asyncio.CancelledError:
            EVENTS.append(f"upper: {name} cancelled")
            raise
        lower = next(iter(self.inference.providers.values())).impl
        EVENTS.append(f"upper: {name} done, inference {'closed' if lower.closed else 'open'}")

    async def drain(self, timeout: float) -> None:
        EVENTS.append("upper: drain")
        await self.background.drain(timeout)

    async def shutdown(self) -> None:
        EVENTS.append("upper: shutdown")
        if self.config.hang_on_shutdown:
            await asyncio.Event().wait()


def create_lower(config: LowerConfig, deps: dict[Api, Any]) -> Lower:
    return Lower("lower")


def create_upper(config: UpperConfig, deps: dict[Api, Any]) -> Upper:
    return Upper(config, deps[Api.inference])


class LowerPlugin:
    @hookimpl
    def register_inference_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                api=Api.inference,
                provider_type="inline::lower",
                config_class=LowerConfig,
                factory="lifecycle_plugin:create_lower",
                operations=(),  # a provider the lifecycle tests start and stop; it serves nothing
            )
        ]


class UpperPlugin:
    @hookimpl
    def register_safety_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                api=Api.safety,
                provider_type="inline::upper",
                config_class=UpperConfig,
                factory="lifecycle_plugin:create_upper",
                api_dependencies=(Api.inference,),
                operations=(),  # started and stopped by the lifecycle tests; it serves nothing
            )
        ]


LOWER = LowerPlugin()
UPPER = UpperPlugin()
