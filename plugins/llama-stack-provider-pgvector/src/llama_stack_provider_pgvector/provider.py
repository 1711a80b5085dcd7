"""``remote::pgvector``: the shared VectorIO engine on a PostgreSQL + pgvector index factory.

Imported by the stack only when a run config uses the provider (psycopg and pgvector are imported here).
"""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.routes import Api
from llama_stack_core.vector_io.engine import VectorStoreEngine

from .config import PGVectorConfig
from .index import PGVectorIndexFactory


async def create_provider(config: PGVectorConfig, deps: dict[Api, Any]) -> VectorStoreEngine:
    factory = PGVectorIndexFactory(config)
    await factory.start()  # a database that cannot be used stops start-up here, with the reason
    try:
        return await VectorStoreEngine.create(factory, config, deps)
    except BaseException:
        await factory.close()
        raise
