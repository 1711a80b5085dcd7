"""Shared fixtures: the test plugin on sys.path, an asyncio backend, and run-config builders."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))

import stack_test_plugin
from stack_test_plugin import echo_providers, recorder_providers

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config


@pytest.fixture
def pm() -> PluginManager:
    return PluginManager(extra_plugins=[stack_test_plugin])


@pytest.fixture(scope="session")
def plugin_env() -> dict[str, str]:
    """Environment for a ``stack serve`` subprocess that loads the test plugin."""
    path = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "LLAMA_STACK_PLUGINS": "stack_test_plugin"}


@pytest.fixture
def full_config(tmp_path: Path) -> dict[str, Any]:
    """Two echo inference providers plus a recorder for every other resource-owning API."""
    return make_run_config({"inference": echo_providers("alpha", "beta"), **recorder_providers()}, tmp_path)


@pytest.fixture
def postgres_storage(postgres_uri: str) -> dict[str, Any]:
    """A ``storage`` section on a fresh PostgreSQL database."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = postgres_uri.replace("/postgres?", f"/{name}?")
    return {
        "backends": {"pg": {"type": "kv_postgres", "dsn": dsn}},
        "stores": {"metadata": {"backend": "pg", "namespace": "registry"}},
    }
