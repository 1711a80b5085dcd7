"""``stack serve``: uvicorn on the stack's ASGI app."""

from __future__ import annotations

import logging
import os

from ..config import load_run_config, resolve_config_source
from ..plugins import PluginManager

CONFIG_ENV = "LLAMA_STACK_RUN_CONFIG"


def app_factory():  # used by uvicorn workers: rebuilds the app in each process
    from ..server.app import create_app

    pm = PluginManager()
    return create_app(load_run_config(os.environ[CONFIG_ENV], pm), pm)


def serve(source: str, *, host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    import uvicorn

    from ..server.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    pm = PluginManager()
    config = load_run_config(source, pm)
    host = host or config.server.host
    port = port if port is not None else int(os.environ.get("LLAMA_STACK_PORT", config.server.port))
    workers = workers or config.server.workers
    options = dict(host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                   ssl_certfile=config.server.tls_certfile, ssl_keyfile=config.server.tls_keyfile,
                   timeout_graceful_shutdown=5)
    if workers > 1:
        os.environ[CONFIG_ENV] = str(resolve_config_source(source, pm).resolve())
        uvicorn.run("llama_stack_core.cli.serve:app_factory", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(config, pm), **options)
