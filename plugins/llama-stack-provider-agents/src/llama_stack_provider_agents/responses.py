"""The ``inline::builtin`` Responses provider: the core's Responses engine on ``config.persistence``, running through
the stack's Inference, Tool Runtime, VectorIO, Safety and Conversations APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llama_stack_core.agents.response_store import ResponseStore
from llama_stack_core.agents.responses import ResponsesEngine
from llama_stack_core.agents.run import Engines
from llama_stack_core.apis.common import CursorPage, DeletedObject
from llama_stack_core.apis.response_items import ResponseItemList
from llama_stack_core.apis.responses import (
    CreateResponseRequest,
    ListResponseInputItemsRequest,
    ListResponsesRequest,
    ResponseIdRequest,
    ResponseObject,
    ResponseObjectWithInput,
)
from llama_stack_core.apis.routes import Api
from llama_stack_core.storage import KVStore

from .config import ResponsesConfig


class BuiltinResponses:
    def __init__(self, kv: KVStore, engine: ResponsesEngine) -> None:
        self.kv = kv
        self.engine = engine

    async def create_openai_response(
        self, request: CreateResponseRequest
    ) -> ResponseObject | AsyncIterator[dict[str, Any]]:
        return await self.engine.create(request)

    async def list_openai_responses(self, request: ListResponsesRequest) -> CursorPage[ResponseObjectWithInput]:
        return await self.engine.list(request)

    async def get_openai_response(self, request: ResponseIdRequest) -> ResponseObject:
        return await self.engine.get(request.response_id)

    async def delete_openai_response(self, request: ResponseIdRequest) -> DeletedObject:
        return await self.engine.delete(request.response_id)

    async def cancel_openai_response(self, request: ResponseIdRequest) -> ResponseObject:
        return await self.engine.cancel(request.response_id)

    async def list_openai_response_input_items(self, request: ListResponseInputItemsRequest) -> ResponseItemList:
        return await self.engine.input_items(request)

    async def drain(self, timeout: float) -> None:
        await self.engine.drain(timeout)

    async def shutdown(self) -> None:
        await self.kv.close()


async def create_provider(config: ResponsesConfig, deps: dict[Api, Any]) -> BuiltinResponses:
    kv = await config.persistence.open()
    engines = Engines(
        inference=deps[Api.inference],
        tool_runtime=deps.get(Api.tool_runtime),
        vector_io=deps.get(Api.vector_io),
        safety=deps.get(Api.safety),
        conversations=deps.get(Api.conversations),
    )
    engine = ResponsesEngine(
        ResponseStore(kv),
        engines,
        max_infer_iters=config.max_infer_iters,
        stale_after=config.background_stale_after_seconds,
    )
    await engine.fail_interrupted()
    return BuiltinResponses(kv, engine)
