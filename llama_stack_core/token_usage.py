"""Token usage per model and minute, counted for every inference call whether or not its trace is recorded.

Sampling decides which requests become spans; token accounting must not depend on it. The tracer's meter sums each
answer's ``usage`` per (model, provider), and the tracer hands the sums to telemetry providers that take them
(``export_usage``) from its background task, with the spans.

This runs on every inference request, so an answer that arrives as JSON bytes (an upstream's answer passed through)
is not parsed whole: only its usage object is (an embeddings answer is kilobytes of numbers), by msgspec's typed
decoder, which also checks the counts in C.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel

TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")
_COUNT_GETTERS = tuple(attrgetter(metric) for metric in TOKEN_METRICS)
MINUTE_NS = 60 * 1_000_000_000
DEFERRED_ANSWER_BYTES = 8192  # larger answers (embeddings of long inputs) are read at once, not held until the drain

TokenCount = Annotated[int, msgspec.Meta(ge=0)]


class Usage(msgspec.Struct, frozen=True, gc=False):
    """The token counts of one answer or chunk (OpenAI's ``usage``; other keys, like ``prompt_tokens_details``, are
    ignored). A count that is not a non-negative integer makes the whole object unusable: it is not counted."""

    prompt_tokens: TokenCount | None = None
    completion_tokens: TokenCount | None = None
    total_tokens: TokenCount | None = None


class _WithUsage(msgspec.Struct, gc=False):
    usage: Usage | None = None


_decode_usage_holder = msgspec.json.Decoder(_WithUsage).decode
_decode_usage_holders = msgspec.json.Decoder(list[_WithUsage]).decode


def usage_in_json(answer: bytes) -> Usage | None:
    """The ``usage`` of an OpenAI-shaped answer or chunk given as JSON bytes, reading only the end of the answer."""
    # A "usage" key inside a string would be escaped (\"usage\"), so the last unescaped one is a key. If it is the
    # answer's own (top level; servers put it last or nearly), "{" + the rest is a small object with the same usage;
    # a key nested deeper leaves closing brackets over, which the decoder rejects.
    start = answer.rfind(b'"usage"')
    if start < 0:
        return None
    try:
        return _decode_usage_holder(b"{" + answer[start:]).usage
    except msgspec.DecodeError:
        pass
    try:  # the last "usage" key was nested (or the counts are not valid): read the whole answer
        return _decode_usage_holder(answer).usage
    except msgspec.DecodeError:
        return None


def usages_in_json(answers: list[bytes]) -> list[Usage | None]:
    """:func:`usage_in_json` of each answer, read by one decoder call when every answer's last "usage" key is its
    own (as ``usage_in_json`` reads one: ``{`` + the tail; an answer without usage whose tail is ``}`` reads as
    ``{}``). Any tail that is not a whole object breaks the array, and then each answer is read on its own."""
    try:
        holders = _decode_usage_holders(
            b"[{" + b",{".join([answer[answer.rfind(b'"usage"') :] for answer in answers]) + b"]"
        )
    except msgspec.DecodeError:
        return [usage_in_json(answer) for answer in answers]
    return [holder.usage for holder in holders]


def usage_of(answer: Any) -> Usage | None:
    """The ``usage`` of an OpenAI-shaped answer or chunk: JSON bytes, a pydantic model or a dict."""
    if isinstance(answer, bytes):
        return usage_in_json(answer)
    if isinstance(answer, BaseModel):
        usage = getattr(answer, "usage", None)
    elif isinstance(answer, dict):
        usage = answer.get("usage")
    else:
        return None
    if usage is None:
        return None
    try:
        return msgspec.convert(usage, Usage, from_attributes=True)
    except msgspec.ValidationError:
        return None


@dataclass(slots=True)
class UsagePoint:
    """The sum of one token count over the calls of one minute: ``metric`` is prompt_tokens, completion_tokens or
    total_tokens; ``labels`` are ``model`` (the model id requested) and ``provider_id``."""

    metric: str
    labels: dict[str, str]
    minute_ns: int
    value: float
    count: int


class TokenMeter:
    """Token usage per (model, provider) since the last drain; the drain sums it and stamps it with the current
    minute (the tracer drains every half second, so a call lands in its own minute or the next).

    Nothing is summed on a request's path: :meth:`add` and :meth:`add_answer` only append. Answers passed through as
    JSON bytes are held as they are and read at the drain, all together, where the decoder's code and data are warm
    in the CPU's caches (on a request's path they are cold): one decoder call reads them, and each count is summed
    with map and sum, in C.
    """

    def __init__(self) -> None:
        self._held: defaultdict[tuple[str, str], list[bytes]] = defaultdict(list)  # answers not read yet
        self._usages: defaultdict[tuple[str, str], list[Usage]] = defaultdict(list)

    def add_answer(self, model: str | None, provider_id: str, answer: Any) -> None:
        """Count the usage of an OpenAI-shaped answer or chunk (see :func:`usage_of`). JSON bytes are read at the
        next drain (a large answer, not worth holding, at once)."""
        if type(answer) is bytes and len(answer) <= DEFERRED_ANSWER_BYTES:
            self._held[model or "", provider_id].append(answer)
        else:
            self.add(model, provider_id, usage_of(answer))

    def add(self, model: str | None, provider_id: str, usage: Usage | None) -> None:
        """Count an answer's usage (None: the answer had no token counts)."""
        if usage is not None:
            self._usages[model or "", provider_id].append(usage)

    def drain(self) -> list[UsagePoint]:
        """The sums counted since the last drain (and forget them)."""
        held, self._held = self._held, defaultdict(list)
        usages, self._usages = self._usages, defaultdict(list)
        for key, answers in held.items():
            usages[key].extend(filter(None, usages_in_json(answers)))  # a Usage is always true
        minute = time.time_ns() // MINUTE_NS * MINUTE_NS
        points = []
        for (model, provider_id), counted in usages.items():
            labels = {"model": model, "provider_id": provider_id} if model else {"provider_id": provider_id}
            for metric, count_of in zip(TOKEN_METRICS, _COUNT_GETTERS):
                counts = list(map(count_of, counted))
                given = len(counts) - counts.count(None)  # answers that gave some counts but not this one: None
                if given:
                    points.append(UsagePoint(metric, labels, minute, float(sum(filter(None, counts))), given))
        return points
