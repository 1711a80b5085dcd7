"""Per-request and per-client limits the endpoints apply (``server.limits``): streams open per client, and the size of
an embeddings input, checked before any work starts. Body sizes are checked while reading (``HttpRequest.body``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel

from ..config.hardening import LimitSettings
from ..errors import PayloadTooLargeError, TooManyRequestsError
from .http import HttpRequest


class StreamSlots:
    """How many streaming answers each client address has open; one over the limit is refused with 429. Subclasses
    count per something else (:meth:`holder`)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}

    def holder(self, request: HttpRequest) -> tuple[str, int | None, str]:
        """Whose slots a request takes: ``(key, their limit, how to name them in a refusal)``."""
        client = request.scope.get("client")
        return (client[0] if client else ""), self.limit, "this client"

    def take(self, request: HttpRequest) -> Callable[[], None]:
        """Take a slot for the request's holder; returns the function that gives it back (call it once)."""
        key, limit, who = self.holder(request)
        count = self.open.get(key, 0)
        if limit is not None and count >= limit:
            raise TooManyRequestsError(
                f"{who} has {count} streaming answers open, the most this server allows at once; wait for one to end"
            )
        self.open[key] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self.open.get(key, 1) - 1
            if left > 0:
                self.open[key] = left
            else:
                self.open.pop(key, None)

        return release


class AllSlots:
    """Several kinds of stream slots taken together (per client address and per user): all, or none."""

    def __init__(self, *slots: StreamSlots) -> None:
        self.slots = [s for s in slots if s.limit is not None]
        self.limit = 1 if self.slots else None  # what ``provider_endpoint`` asks: is there a limit at all

    def take(self, request: HttpRequest) -> Callable[[], None]:
        releases: list[Callable[[], None]] = []
        try:
            for slots in self.slots:
                releases.append(slots.take(request))
        except TooManyRequestsError:
            for release in releases:
                release()
            raise

        def release_all() -> None:
            for release in releases:
                release()

        return release_all


class Releasing:
    """``events``, with the stream's slot given back however the stream ends: finished, failed, or closed by
    ``StreamReply.send`` (which closes it even when the client left before the first event)."""

    __slots__ = ("_events", "_release")

    def __init__(self, events: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        self._events = events
        self._release = release

    def __aiter__(self) -> Releasing:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._events.__anext__()
        except BaseException:
            self._release()
            raise

    async def aclose(self) -> None:
        self._release()
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()


def embedding_input_size(value: Any) -> tuple[int, int]:
    """``(inputs, characters)`` of an embeddings ``input``: a string, strings, token ids, or lists of token ids
    (a token id counts as one character)."""
    if isinstance(value, str):
        return 1, len(value)
    if not isinstance(value, list) or not value:
        return 0, 0
    if isinstance(value[0], int):
        return 1, len(value)
    return len(value), sum(len(item) for item in value)


def check_embeddings(request: BaseModel, limits: LimitSettings) -> None:
    """Refuse an embeddings request over ``max_embedding_inputs`` or ``max_embedding_input_chars`` (413)."""
    inputs, chars = embedding_input_size(getattr(request, "input", None))
    if inputs > limits.max_embedding_inputs:
        raise PayloadTooLargeError(
            f"input has {inputs} items; this server embeds at most {limits.max_embedding_inputs} per request",
            param="input",
        )
    if chars > limits.max_embedding_input_chars:
        raise PayloadTooLargeError(
            f"input has {chars} characters in all; this server embeds at most {limits.max_embedding_input_chars} "
            "per request (split it over several requests)",
            param="input",
        )
