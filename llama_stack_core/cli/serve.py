"""``stack serve``: uvicorn on the stack's ASGI app.

One worker: the stack starts before the port is bound, so a bad config or provider fails with a one-line error.
Several workers: uvicorn's process manager runs the app factory in each worker (lifespan starts the stack).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..config import RunConfig, ServerConfig, load_run_config, resolve_config_source
from ..errors import ConfigError
from ..log_config import configure_logging
from ..plugins import PluginManager

CONFIG_ENV = "LLAMA_STACK_RUN_CONFIG"
FAILURES_ENV = "LLAMA_STACK_WORKER_FAILURES"
log = logging.getLogger("llama_stack_core.serve")


def app_factory():
    """The ASGI app for one worker process, from the config path the parent left in the environment."""
    from ..server.app import create_app

    pm = PluginManager()
    app = create_app(load_run_config(os.environ[CONFIG_ENV], pm), pm)
    app.on_start_failure = _report_start_failure
    tune_garbage_collector()
    return app


def _report_start_failure(exc: Exception) -> None:
    """Tell the parent process why this worker could not start (uvicorn only sees an exit code)."""
    path = os.environ.get(FAILURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"worker {os.getpid()}: {exc}\n")


def tune_garbage_collector() -> None:
    """Collect young objects far less often, and never scan what start-up created.

    A request allocates a few hundred short-lived objects; with CPython's default threshold (700) the collector runs
    every few requests and promotes objects of requests in flight to older generations, which are costly to scan.
    The garbage of a collection cycle waits longer, a few MB at most (the gain: bench/README.md, "Figures behind the
    design").
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def serve(
    source: str,
    *,
    host: str | None,
    port: int | None,
    workers: int | None,
    log_level: str,
    port_file: str | None = None,
) -> None:
    """Serve ``source``; port 0 takes any free port, and ``port_file`` (if given) receives the port once bound."""
    import uvicorn

    configure_logging(log_level)
    pm = PluginManager()
    config = load_run_config(source, pm)
    from ..config.strict import ignored_key_warning

    for key in config.ignored_keys():
        log.warning(ignored_key_warning(key))
    host = host or config.server.host
    port = port if port is not None else int(os.environ.get("LLAMA_STACK_PORT", config.server.port))
    warn_if_open(config, host)
    from ..server.protocol import JsonErrorHttpToolsProtocol

    options = dict(
        host=host,
        port=port,
        http=JsonErrorHttpToolsProtocol,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        **tls_options(config.server),
    )
    workers = workers or config.server.workers
    if workers > 1:
        os.environ[CONFIG_ENV] = str(resolve_config_source(source, pm).resolve())
        handle, failures = tempfile.mkstemp(prefix="stack-serve-", suffix=".failures")
        os.close(handle)
        os.environ[FAILURES_ENV] = failures
        try:
            server_config = uvicorn.Config(
                "llama_stack_core.cli.serve:app_factory",
                factory=True,
                workers=workers,
                lifespan="on",
                log_config=None,
                **options,
            )
            sock = listen(host, port, port_file)
            _run_workers(server_config, sock)
            reported = Path(failures).read_text(encoding="utf-8").strip()
        finally:
            Path(failures).unlink(missing_ok=True)
        if reported:  # uvicorn stops every worker when one cannot start, and returns normally
            raise ConfigError(f"the server stopped: a worker could not start: {reported.splitlines()[0]}")
        return
    from ..server.app import create_app

    app = create_app(config, pm)
    # the stack is started before the port is bound (a bad config fails fast); uvicorn's lifespan shutdown stops it,
    # which also runs on SIGTERM/SIGINT before uvicorn re-raises the signal
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, **options))
    _run(_serve_one(app, server, lambda: listen(host, port, port_file)))


def tls_options(server: ServerConfig) -> dict[str, Any]:
    """uvicorn's TLS options for ``server.tls_*``: a certificate and key to serve HTTPS, and with ``tls_client_ca``
    mutual TLS (a client without a certificate signed by that CA is refused in the handshake)."""
    if server.tls_certfile is None:
        if server.tls_keyfile or server.tls_client_ca:
            raise ConfigError("server.tls_keyfile and server.tls_client_ca need server.tls_certfile")
        return {}
    for name in ("tls_certfile", "tls_keyfile", "tls_client_ca"):
        path = getattr(server, name)
        if path is not None and not Path(path).expanduser().is_file():
            raise ConfigError(f"server.{name}: no such file: {path}")
    options: dict[str, Any] = {
        "ssl_certfile": str(Path(server.tls_certfile).expanduser()),
        "ssl_keyfile": server.tls_keyfile and str(Path(server.tls_keyfile).expanduser()),
    }
    if server.tls_client_ca:
        import ssl

        options["ssl_ca_certs"] = str(Path(server.tls_client_ca).expanduser())
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options


def auth_configured(config: RunConfig) -> bool:
    """Whether the run config asks for authentication (a ``server.auth`` section)."""
    return bool(getattr(config.server, "auth", None))


def warn_if_open(config: RunConfig, host: str) -> None:
    """Warn when every interface is served with no authentication: anyone who can reach the port can use every
    API and spend every provider's key."""
    if host in ("0.0.0.0", "::", "") and not auth_configured(config):
        log.warning(
            "serving on %s (every interface) with authentication off (no server.auth): anyone who can reach "
            "the port can use every API and the providers' keys. Bind 127.0.0.1 (--host) outside a container, "
            "or put the server behind an authenticating proxy; see SECURITY.md",
            host or "all interfaces",
        )


def listen(host: str, port: int, port_file: str | None = None) -> socket.socket:
    """The server's socket, bound here so that port 0 (any free port) is known: written to ``port_file`` if given.

    Binding here rather than in uvicorn is what lets a caller start servers on port 0 and learn the port, with no
    window in which another process could take a port picked in advance.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # worker processes serve on it
    if port_file:
        bound = Path(port_file)
        partial = bound.with_name(f"{bound.name}.partial-{os.getpid()}")
        partial.write_text(f"{sock.getsockname()[1]}\n", encoding="utf-8")
        partial.replace(bound)  # a reader never sees a half-written file
    return sock


def _run_workers(config, sock: socket.socket) -> None:
    """uvicorn's worker supervisor on ``sock`` (what ``uvicorn.run`` does with a socket it binds itself)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn releases take the worker function
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


async def _serve_one(app, server, bind) -> None:
    try:
        await app.start()
        sock = bind()
    except Exception as exc:
        await app.stop()
        if isinstance(exc, ConfigError):
            raise
        log.debug("start-up failed", exc_info=True)
        raise ConfigError(f"start-up failed: {exc}") from None
    tune_garbage_collector()
    log.info("serving %d APIs: %s", len(app.state.stack.apis), ", ".join(a.value for a in app.state.stack.apis))
    await server.serve(sockets=[sock])


def _run(coro) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(coro)
        return
    uvloop.run(coro)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: stack serve")
