"""The starter distro: ships its run config (run.yaml, next to this file) through the ``register_distros`` hook."""

from __future__ import annotations

from pathlib import Path

from llama_stack_core.distros import DistroSpec
from llama_stack_core.hookspecs import hookimpl

DESCRIPTION = "Inline and offline: local models, SQLite vector stores, local files and traces; no accounts needed."


@hookimpl
def register_distros() -> list[DistroSpec]:
    return [DistroSpec(name="starter", description=DESCRIPTION, run_config=Path(__file__).with_name("run.yaml"))]
