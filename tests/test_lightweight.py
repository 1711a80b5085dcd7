"""The core imports nothing heavy: no provider SDK, no torch, no psycopg unless PostgreSQL is configured."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["psycopg", "psycopg_pool", "torch", "numpy", "openai", "llama_stack_client", "transformers", "aiohttp"]

PROBE = """
import asyncio, json, sys, tempfile
from pathlib import Path
from llama_stack_core.cli.main import build_parser
build_parser().parse_args(["list-apis"])
from llama_stack_core.testing.harness import make_run_config, stack_client

async def main():
    async with stack_client(make_run_config({}, Path(tempfile.mkdtemp()))) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.post("/v1/models", json={"model_id": "m"})).status_code == 501

asyncio.run(main())
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
"""


def test_serving_a_sqlite_stack_imports_nothing_heavy():
    result = subprocess.run([sys.executable, "-c", PROBE % HEAVY], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_help_imports_no_server_code():
    code = (
        "import sys; from llama_stack_core.cli.main import build_parser; build_parser(); "
        "print([m for m in ('starlette', 'uvicorn', 'pydantic', 'llama_stack_core.apis.responses', "
        "'llama_stack_core.apis.conversations', 'llama_stack_core.apis.agents') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
