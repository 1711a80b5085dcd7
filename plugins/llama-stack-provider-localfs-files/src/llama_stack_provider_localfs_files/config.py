"""Configuration of ``inline::localfs``. Imported by plugin.py, so it stays light: pydantic and the standard library."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_core.storage import StoreConfig

PROVIDER_TYPE = "inline::localfs"
DEFAULT_STORAGE_DIR = "~/.llama/distributions/starter/files"
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def _default_storage_dir() -> str:
    # The same rule as the sample config's ${env.FILES_STORAGE_DIR:=...}: unset or empty means the default.
    return os.environ.get("FILES_STORAGE_DIR") or DEFAULT_STORAGE_DIR


class LocalFSFilesConfig(BaseModel):
    """Where file bytes and file metadata live, and the limits uploads are held to."""

    model_config = ConfigDict(extra="forbid")

    storage_dir: str = Field(
        default_factory=_default_storage_dir,
        min_length=1,
        description="Directory holding the file bytes (one file per id; created if missing; ~ is expanded). "
        "Several server processes may share it when they also share `persistence`.",
    )
    persistence: StoreConfig = Field(
        default_factory=lambda: {"backend": "default", "namespace": "files"},
        validate_default=True,
        description="Key-value store for file metadata: a backend named in storage.backends, or `default` for the "
        "registry's backend.",
    )
    max_upload_bytes: int = Field(
        default=DEFAULT_MAX_UPLOAD_BYTES, ge=1, description="Largest accepted upload; a larger one is refused with 413."
    )
    fsync: bool = Field(
        default=True,
        description="fsync each upload before it is published (durable across a "
        "power loss; false is faster on slow disks).",
    )
    cleanup_interval_seconds: float | None = Field(
        default=3600,
        gt=0,
        description="How often expired files are deleted in the background (they are refused "
        "with 404 from the moment they expire either way); null turns the sweep off.",
    )
    io_threads: int = Field(default=4, ge=1, le=64, description="Threads doing file IO (never the event loop).")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "storage_dir": "${env.FILES_STORAGE_DIR:=" + DEFAULT_STORAGE_DIR + "}",
            "persistence": {"backend": "default", "namespace": "files"},
            "max_upload_bytes": "${env.FILES_MAX_UPLOAD_BYTES:=" + str(DEFAULT_MAX_UPLOAD_BYTES) + "}",
        }
