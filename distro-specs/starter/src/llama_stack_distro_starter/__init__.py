"""The starter distro: ships its run config through the ``register_distros`` hook."""

from __future__ import annotations

from pathlib import Path

from llama_stack_core.distros import DistroSpec
from llama_stack_core.hookspecs import hookimpl


@hookimpl
def register_distros() -> list[DistroSpec]:
    return [DistroSpec(name="starter", description="Everything inline and offline; no accounts, no network.",
                       run_config=Path(__file__).with_name("run.yaml"))]
