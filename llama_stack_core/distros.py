"""DistroSpec: a named run config shipped by a distro package through the ``register_distros`` hook."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class DistroSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    run_config: Path
