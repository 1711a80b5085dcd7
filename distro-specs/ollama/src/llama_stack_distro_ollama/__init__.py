"""The ollama distro: ships its run config (run.yaml, next to this file) through the ``register_distros`` hook."""

from __future__ import annotations

from pathlib import Path

from llama_stack_core.distros import DistroSpec
from llama_stack_core.hookspecs import hookimpl

DESCRIPTION = "Inference on an Ollama server (URL from the environment); vector stores, files and traces local."


@hookimpl
def register_distros() -> list[DistroSpec]:
    return [DistroSpec(name="ollama", description=DESCRIPTION, run_config=Path(__file__).with_name("run.yaml"))]
