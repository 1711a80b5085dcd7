"""Per-request context providers can read: the ``X-LlamaStack-Provider-Data`` header (per-request credentials)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

PROVIDER_DATA: ContextVar[dict[str, Any] | None] = ContextVar("provider_data", default=None)


def provider_data() -> dict[str, Any]:
    """The parsed provider-data header of the current request, or ``{}``."""
    return PROVIDER_DATA.get() or {}
