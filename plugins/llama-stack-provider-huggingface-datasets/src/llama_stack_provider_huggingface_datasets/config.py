"""Configuration of ``remote::huggingface`` (datasetio). Imported by plugin.py, so it stays light: pydantic and the
standard library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .refs import check_repo_id

PROVIDER_TYPE = "remote::huggingface"


class HuggingFaceDatasetsConfig(BaseModel):
    """Where datasets are read from: local dataset directories first (``local_roots``), then the ``datasets`` cache
    and the Hub cache, then (unless offline) the Hub itself."""

    model_config = ConfigDict(extra="forbid")

    offline: bool = Field(
        default=False,
        description="Never reach the Hub: read only local_roots and the caches. HF_HUB_OFFLINE=1 or "
        "HF_DATASETS_OFFLINE=1 in the environment has the same effect. Turns the `datasets` library offline for the "
        "whole server process.",
    )
    cache_dir: str | None = Field(
        default=None,
        description="The `datasets` cache (prepared Arrow files), default HF_DATASETS_CACHE "
        "(~/.cache/huggingface/datasets). Must be writable: preparing a dataset writes there.",
    )
    hub_cache_dir: str | None = Field(
        default=None,
        description="The Hub's download cache (snapshots of dataset repositories), default HF_HUB_CACHE "
        "(~/.cache/huggingface/hub). Read when a dataset is not in the `datasets` cache and the Hub cannot be asked.",
    )
    local_roots: dict[str, str] = Field(
        default_factory=dict,
        description="Repository ids served from local files instead of the Hub: `org/name` -> a dataset directory "
        "(data files, optionally a README.md with `configs:`) or one data file (.parquet, .jsonl, .json, .csv, .tsv).",
    )
    token: SecretStr | None = Field(
        default=None, description="A Hub token for private or gated datasets (else HF_TOKEN or the stored login)."
    )
    max_page_rows: int = Field(
        default=50_000,
        ge=1,
        description="Most rows one iterrows page returns, also when the request asks for all rows (limit -1 or none): "
        "a longer answer has has_more and next_start_index set, so a split of millions of rows is never turned into "
        "one response.",
    )

    @field_validator("local_roots")
    @classmethod
    def _roots(cls, roots: dict[str, str]) -> dict[str, str]:
        for repo_id, path in roots.items():
            problem = check_repo_id(repo_id)
            if problem is not None:
                raise ValueError(f"local_roots: '{repo_id}' is not a dataset repository id ({problem})")
            if not Path(path).expanduser().is_absolute():
                raise ValueError(f"local_roots['{repo_id}']: '{path}' is not an absolute path")
        return {repo_id: str(Path(path).expanduser()) for repo_id, path in roots.items()}

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider (HF_HUB_OFFLINE=1 still turns it
        offline)."""
        return {"offline": False, "local_roots": {}}
