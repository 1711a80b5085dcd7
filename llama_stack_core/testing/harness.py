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
from .waiting import eventually_sync


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
    """A port that was free a moment ago, for servers that cannot report the port they bound (or a port that must
    refuse connections). Another process may take it before the caller binds it: prefer starting a server on port 0
    and asking it (``stack serve --port 0 --port-file``, :func:`served_stack`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_stack(
    config: dict[str, Any] | str | Path,
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    extra_args: list[str] = (),
    timeout: float = 30,
) -> Iterator[str]:
    """Run ``stack serve`` in a subprocess on a port it picks itself; yield its base URL once healthy; stop it on exit."""
    with serving_process(config, directory, env=env, extra_args=extra_args, timeout=timeout) as (base_url, _):
        yield base_url


@contextmanager
def serving_process(
    config: dict[str, Any] | str | Path,
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    extra_args: list[str] = (),
    timeout: float = 30,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`served_stack` that also yields the process (to kill it mid-work, as a crash would); stopped on exit
    unless it has already ended."""
    if isinstance(config, dict):
        path = directory / f"run-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    name = f"server-{time.monotonic_ns()}"
    log_path, port_file = directory / f"{name}.log", directory / f"{name}.port"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            serve_command(config, port_file, *extra_args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        port = wait_for_port(process, port_file, log_path, timeout)
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, process, log_path, timeout)
        yield base_url, process
    finally:
        if process.poll() is None:
            stop_process(process, timeout=15)


def serve_command(config: str | Path, port_file: Path, *extra_args: str) -> list[str]:
    """``stack serve`` of a run config on 127.0.0.1, on a port it binds itself and writes to ``port_file``."""
    command = [sys.executable, "-m", "llama_stack_core.cli.main", "serve", str(config)]
    return [*command, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file), *extra_args]


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ask a server process to stop (SIGTERM); kill it if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _running(process: subprocess.Popen[Any], log_path: Path) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text()}")


def wait_for_port(process: subprocess.Popen[Any], port_file: Path, log_path: Path, timeout: float = 30) -> int:
    """The port a ``stack serve --port 0 --port-file PORT_FILE`` process bound, once it has written it."""

    def written() -> int | None:
        _running(process, log_path)
        return int(port_file.read_text()) if port_file.exists() else None

    return eventually_sync(written, timeout=timeout, what=f"the port in {port_file}")


def wait_healthy(base_url: str, process: subprocess.Popen[Any], log_path: Path, timeout: float = 30) -> None:
    """Wait until the server at ``base_url`` answers ``/v1/health`` with 200 (failing at once if it exited)."""

    def healthy() -> bool:
        _running(process, log_path)
        try:
            return httpx.get(f"{base_url}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(healthy, timeout=timeout, interval=0.05, what=f"{base_url}/v1/health")
