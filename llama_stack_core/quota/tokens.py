"""Token usage charged to the caller of the request that spent it.

The quota wrapper gives each request a :class:`Charge` (a context variable); the inference operations that answer
with token counts (chat completions, completions, embeddings) hand it their answers, or a stream's last chunk, and the
counts are read once the request has ended, by :func:`~llama_stack_core.token_usage.usage_of`, as the token meter
reads them. Installed only when a ``tokens_per_day`` limit is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from ..routing import ApiRouter
from ..token_usage import usage_of

#: the inference operations whose answers carry ``usage``
METERED_OPERATIONS = ("openai_chat_completion", "openai_completion", "openai_embeddings")


class Charge:
    """The answers of one request's inference calls; ``late(plan, tokens)`` takes the tokens of a call that ends
    after the request did (a task the request started)."""

    __slots__ = ("answers", "closed", "late", "plan")

    def __init__(self, plan: Any, late: Callable[[Any, int], None]) -> None:
        self.answers: list[Any] = []
        self.closed = False
        self.plan = plan
        self.late = late

    def add(self, answer: Any) -> None:
        if self.closed:
            self.late(self.plan, tokens_in([answer]))
        else:
            self.answers.append(answer)

    def close(self) -> int:
        """The tokens of every answer so far; later ones go to ``late``."""
        self.closed = True
        answers, self.answers = self.answers, []
        return tokens_in(answers)


CHARGE: ContextVar[Charge | None] = ContextVar("quota_charge", default=None)


def tokens_in(answers: list[Any]) -> int:
    """Input + output tokens of these answers (``total_tokens``, else prompt + completion)."""
    spent = 0
    for answer in answers:
        usage = usage_of(answer)
        if usage is not None:
            total = usage.total_tokens
            spent += total if total is not None else (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
    return spent


class ChargingOperation:
    """An inference operation whose answers are also handed to the current request's :class:`Charge`."""

    __slots__ = ("_call", "name", "route")

    def __init__(self, operation: Any) -> None:
        self._call = operation.call
        self.route = operation.route
        self.name = operation.name

    async def call(self, request: BaseModel | None) -> Any:
        result = await self._call(request)
        charge = CHARGE.get()
        if charge is None:
            return result
        if type(result) is not bytes and hasattr(result, "__aiter__"):
            return _charged_stream(result, charge)
        charge.add(result)
        return result


async def _charged_stream(chunks: AsyncIterator[Any], charge: Charge) -> AsyncIterator[Any]:
    """The stream passed through; its last chunk (where OpenAI-compatible servers put a stream's usage) charged
    however it ends."""
    last = None
    try:
        async for chunk in chunks:
            last = chunk
            yield chunk
    finally:
        if last is not None:
            charge.add(last)
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def charge_inference(router: ApiRouter) -> None:
    """Make the router's token-metered operations charge their answers (at start-up, before any request)."""
    for name in METERED_OPERATIONS:
        if name in router.operations:
            router.operations[name] = ChargingOperation(router.operations[name])  # type: ignore[assignment]
