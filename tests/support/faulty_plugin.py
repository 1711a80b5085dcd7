"""A test plugin whose inference provider fails on demand: the last user message names the failure.

``inline::faulty`` answers ``value-error`` with a plain ``ValueError`` (a provider bug), ``key-error`` with a
``KeyError``, ``bad-request`` with a ``BadRequestError`` (an explicit refusal); with ``stream`` set, the failure comes
after a first chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

SECRET = "internal detail 7f3a"


def fail(what: str) -> None:
    if what == "value-error":
        raise ValueError(f"cannot parse {SECRET}")
    if what == "key-error":
        raise KeyError(SECRET)
    if what == "bad-request":
        raise BadRequestError("temperature is too hot for this model", param="temperature")


class FaultyConfig(BaseModel):
    pass


class Faulty:
    async def openai_chat_completion(self, request: Any) -> Any:
        what = request.messages[-1].content
        if request.stream:
            return self._stream(what)
        fail(what)
        return {"object": "chat.completion", "choices": []}

    async def _stream(self, what: str) -> AsyncIterator[dict[str, Any]]:
        yield {"object": "chat.completion.chunk", "choices": []}
        fail(what)


def create(config: FaultyConfig, deps: dict[Api, Any]) -> Faulty:
    return Faulty()


@hookimpl
def register_inference_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.inference,
            provider_type="inline::faulty",
            config_class=FaultyConfig,
            factory="faulty_plugin:create",
            operations=("openai_chat_completion",),
        )
    ]
