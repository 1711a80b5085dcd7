"""Inference routing, plus the stored chat completions (the inference store): with the store on, the chat completion
operation hands every answer to it, and the list/get routes read it. With it off the operation is the plain one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from ..apis.common import CursorPage
from ..apis.inference import (
    ChatCompletionRef,
    ListChatCompletionMessagesRequest,
    ListChatCompletionsRequest,
)
from ..errors import NotFoundError
from ..inference.chat_store import ChatCompletionStore
from ..routing import ApiRouter, Operation

CHAT = "openai_chat_completion"


class StoringOperation(Operation):
    """The chat completion operation, answering as the plain one does and queueing the answer for the store (a
    stream once it has ended; not one that failed or that the client closed early). A request that says
    ``store: false`` is not stored."""

    __slots__ = ("_store",)

    def __init__(self, router: ApiRouter, store: ChatCompletionStore) -> None:
        super().__init__(router, router.operations[CHAT].route)
        self._store = store

    async def call(self, request: BaseModel | None) -> Any:
        result = await super().call(request)
        extra = request.__pydantic_extra__ if request is not None else None
        if extra and extra.get("store") is False:
            return result
        if type(result) is not bytes and hasattr(result, "__aiter__"):
            return self._stored_stream(result, request)
        self._store.add(request, result)
        return result

    async def _stored_stream(self, chunks: AsyncIterator[Any], request: Any) -> AsyncIterator[Any]:
        at_ns = time.time_ns()
        received: list[Any] = []
        try:
            async for chunk in chunks:
                received.append(chunk)
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        self._store.add(request, received, streamed=True, at_ns=at_ns)


class InferenceRouter(ApiRouter):
    #: the inference store, when the run config keeps one (``inference_store.enabled``)
    store: ChatCompletionStore | None = None

    def use_store(self, store: ChatCompletionStore) -> None:
        """Store every chat completion answered from now on (called at start-up, before any request)."""
        self.store = store
        self.operations[CHAT] = StoringOperation(self, store)

    async def openai_list_chat_completions(self, request: ListChatCompletionsRequest) -> Any:
        if self.store is None:
            return CursorPage[Any](data=[])
        return await self.store.list(request)

    async def openai_get_chat_completion(self, request: ChatCompletionRef) -> bytes:
        if self.store is None:
            raise NotFoundError(f"chat completion '{request.completion_id}' not found (the inference store is off)")
        return await self.store.get(request.completion_id)

    async def openai_list_chat_completion_messages(self, request: ListChatCompletionMessagesRequest) -> Any:
        if self.store is None:
            raise NotFoundError(f"chat completion '{request.completion_id}' not found (the inference store is off)")
        return await self.store.messages(request)
