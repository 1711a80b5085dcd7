"""Helpers to run a stack in-process (or as a ``stack serve`` subprocess) and talk to it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import yaml

from ..config.loader import parse_run_config
from ..config.model import RunConfig
from ..hookspecs import hookimpl
from ..plugins import PluginManager


def sqlite_storage(directory: Path) -> dict[str, Any]:
    """A ``storage`` section keeping the registry in ``directory``."""
    return {
        "backends": {"kv_default": {"type": "kv_sqlite", "db_path": str(directory / "registry.db")}},
        "stores": {"metadata": {"backend": "kv_default", "namespace": "registry"}},
    }


def make_run_config(providers: dict[str, list[dict[str, Any]]], directory: Path, **extra: Any) -> dict[str, Any]:
    """A run config dict: these providers, registry in ``directory``, plus any top-level keys."""
    return {"version": 2, "distro_name": "test", "providers": providers, "storage": sqlite_storage(directory), **extra}


def provider_run_config(
    directory: Path,
    provider_type: str,
    config: dict[str, Any],
    *,
    provider_id: str,
    api: str = "inference",
    **extra: Any,
) -> dict[str, Any]:
    """A run config with one provider (``provider_id`` of ``provider_type`` for ``api``), plus any top-level keys."""
    entry = {"provider_id": provider_id, "provider_type": provider_type, "config": config}
    return make_run_config({api: [entry]}, directory, **extra)


def plugin_stack(
    plugin: ModuleType, config: dict[str, Any] | RunConfig
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """:func:`stack_client` with this plugin module alone: no entry-point discovery, so nothing else installed in the
    environment (another provider, a test plugin) takes part."""
    return stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin]))


def hook_plugin(**hooks: Callable[..., Any]) -> ModuleType:
    """A plugin module implementing these hooks (hook name -> function), to install with
    ``PluginManager(extra_plugins=[...])``; pluggy checks each name and signature against the hookspecs."""
    module = ModuleType("hook_plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


@asynccontextmanager
async def stack_client(
    config: dict[str, Any] | RunConfig,
    pm: PluginManager | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Start a stack in this process and yield an HTTP client bound to it (no sockets)."""
    from ..server.app import create_app

    if isinstance(config, dict):
        config = parse_run_config(config)
    app = create_app(config, pm)
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stack", timeout=30) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_stack(
    config: dict[str, Any] | str | Path,
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    extra_args: list[str] = (),
    timeout: float = 30,
) -> Iterator[str]:
    """Run ``stack serve`` in a subprocess on a free port; yield its base URL; stop it on exit."""
    if isinstance(config, dict):
        path = directory / f"run-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    port = port or free_port()
    log_path = directory / f"server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "llama_stack_core.cli.main",
        "serve",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, process, log_path, timeout)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stack serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"stack serve did not become healthy in {timeout}s:\n{log_path.read_text()}")
