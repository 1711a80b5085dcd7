"""The postgres distro: ships its run config (run.yaml, next to this file) through the ``register_distros`` hook."""

from __future__ import annotations

from pathlib import Path

from llama_stack_core.distros import DistroSpec
from llama_stack_core.hookspecs import hookimpl

DESCRIPTION = "Starter with its state in PostgreSQL (registry, pgvector, file metadata, traces): scales out."


@hookimpl
def register_distros() -> list[DistroSpec]:
    return [DistroSpec(name="postgres", description=DESCRIPTION, run_config=Path(__file__).with_name("run.yaml"))]
