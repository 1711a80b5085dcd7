"""Configuration of ``remote::model-context-protocol``. Imported by plugin.py: pydantic only (no MCP SDK)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PROVIDER_TYPE = "remote::model-context-protocol"


class MCPConfig(BaseModel):
    """How the provider talks to the MCP servers of its tool groups (the servers themselves are tool groups)."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Bound on opening a session: connecting (or starting a stdio server) and the initialize handshake.",
    )
    request_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Bound on one MCP request (tools/list, tools/call); the stack's per-group timeout is usually "
        "shorter and applies first.",
    )
    max_sessions_per_group: int = Field(
        default=8,
        ge=1,
        description="Open sessions kept per tool group, one per distinct set of per-request headers; the least "
        "recently used is closed beyond this.",
    )
    protocol: Literal["auto", "legacy"] = Field(
        default="auto",
        description="'auto': ask the server for the newest protocol it speaks (falls back to the initialize "
        "handshake); 'legacy': always the initialize handshake (pre-2026 protocol versions).",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {}
