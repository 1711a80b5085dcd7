"""Configuration of the ``inline::builtin`` agent providers. Imported by plugin.py: pydantic and the core only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_core.storage import StoreConfig

PROVIDER_TYPE = "inline::builtin"


def _store(namespace: str) -> Any:
    return Field(
        default_factory=lambda: {"backend": "default", "namespace": namespace},
        validate_default=True,
        description="Key-value store for this API's state: a backend named in storage.backends, or `default` for the "
        "registry's backend. Several server processes share state by sharing it.",
    )


class ConversationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persistence: StoreConfig = _store("conversations")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"persistence": {"backend": "default", "namespace": "conversations"}}


class ResponsesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persistence: StoreConfig = _store("responses")
    max_infer_iters: int = Field(default=10, ge=1, description="Model calls per response, unless the request says.")
    background_stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A background response whose server has not signalled for this long is taken as interrupted "
        "(its process died) and marked failed; a running server signals four times within it.",
    )

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"persistence": {"backend": "default", "namespace": "responses"}}


class AgentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persistence: StoreConfig = _store("agents")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"persistence": {"backend": "default", "namespace": "agents"}}
