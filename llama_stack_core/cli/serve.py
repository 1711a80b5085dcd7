"""``stack serve``: uvicorn on the stack's ASGI app.

One worker: the stack starts before uvicorn binds, so a bad config or provider fails with a one-line error.
Several workers: uvicorn's process manager runs the app factory in each worker (lifespan starts the stack).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from ..config import load_run_config, resolve_config_source
from ..errors import ConfigError
from ..log_config import configure_logging
from ..plugins import PluginManager

CONFIG_ENV = "LLAMA_STACK_RUN_CONFIG"
log = logging.getLogger("llama_stack_core.serve")


def app_factory():
    """The ASGI app for one worker process, from the config path the parent left in the environment."""
    from ..server.app import create_app

    pm = PluginManager()
    return create_app(load_run_config(os.environ[CONFIG_ENV], pm), pm)


def serve(source: str, *, host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    import uvicorn

    configure_logging(log_level)
    pm = PluginManager()
    config = load_run_config(source, pm)
    options = dict(
        host=host or config.server.host,
        port=port if port is not None else int(os.environ.get("LLAMA_STACK_PORT", config.server.port)),
        log_level=log_level, access_log=False, ssl_certfile=config.server.tls_certfile,
        ssl_keyfile=config.server.tls_keyfile, timeout_graceful_shutdown=5,
    )
    workers = workers or config.server.workers
    if workers > 1:
        os.environ[CONFIG_ENV] = str(resolve_config_source(source, pm).resolve())
        uvicorn.run("llama_stack_core.cli.serve:app_factory", factory=True, workers=workers, lifespan="on",
                    log_config=None, **options)
        return
    from ..server.app import create_app

    app = create_app(config, pm)
    # the stack is started before uvicorn binds (a bad config fails fast); uvicorn's lifespan shutdown stops it,
    # which also runs on SIGTERM/SIGINT before uvicorn re-raises the signal
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, **options))
    _run(_serve_one(app, server))


async def _serve_one(app, server) -> None:
    try:
        await app.start()
    except ConfigError:
        await app.stop()
        raise
    log.info("serving %d APIs: %s", len(app.state.stack.apis), ", ".join(a.value for a in app.state.stack.apis))
    await server.serve()


def _run(coro) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(coro)
        return
    uvloop.run(coro)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: stack serve")
