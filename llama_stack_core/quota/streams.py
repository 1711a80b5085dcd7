"""Streaming answers open at once per user (``server.quota.per_user.max_concurrent_streams``), or per anonymous
client address (``anonymous.max_concurrent_streams``), counted in this process."""

from __future__ import annotations

from ..request_context import PRINCIPAL
from ..server.http import HttpRequest
from ..server.limits import StreamSlots
from .config import QuotaConfig


class CallerStreamSlots(StreamSlots):
    def __init__(self, config: QuotaConfig) -> None:
        self.per_user = config.per_user.max_concurrent_streams
        self.anonymous = config.anonymous.max_concurrent_streams
        super().__init__(self.per_user or self.anonymous)

    def holder(self, request: HttpRequest) -> tuple[str, int | None, str]:
        principal = PRINCIPAL.get()
        if principal is not None:
            return f"u:{principal.user}", self.per_user, f"user '{principal.user}'"
        client = request.scope.get("client")
        return f"a:{client[0] if client else ''}", self.anonymous, "this client"
