"""OpenAI-style cursor pagination over an in-memory list (``after``/``before``/``limit``/``order``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .apis.common import CursorPage
from .errors import BadRequestError

T = TypeVar("T")


def paginate(
    items: Sequence[T],
    *,
    limit: int,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
    sort_key: Callable[[T], Any],
    item_id: Callable[[T], str],
) -> CursorPage[T]:
    """Sort by ``sort_key`` (then id) in ``order``, cut at the ``after``/``before`` ids, take ``limit`` (with only
    ``before``, the ``limit`` items just before it: the previous page)."""
    ordered = sorted(items, key=lambda item: (sort_key(item), item_id(item)), reverse=order == "desc")
    ids = [item_id(item) for item in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        if after not in ids:
            raise BadRequestError(f"after: no item with id '{after}'", param="after")
        start = ids.index(after) + 1
    if before is not None:
        if before not in ids:
            raise BadRequestError(f"before: no item with id '{before}'", param="before")
        end = ids.index(before)
    window = ordered[start:end]
    page = window[-limit:] if before is not None and after is None else window[:limit]
    return CursorPage[Any](
        data=list(page),
        has_more=len(window) > len(page),
        first_id=item_id(page[0]) if page else None,
        last_id=item_id(page[-1]) if page else None,
    )
