"""The distros under distro-specs/: listed and printable by the CLI, their generated READMEs and Containerfiles up
to date, and each remote distro serving through its vendor (a ScriptedServer standing in for Fireworks, Together,
OpenAI, Ollama and vLLM, reached through the base URL the distro reads from the environment). Serving starter from
installed wheels is in tests/test_packaging.py; postgres with several processes in tests/test_scale_out.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llama_stack_core.config import load_run_config
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import stack_client
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
DISTROS = sorted(p.parent.name for p in ROOT.glob("distro-specs/*/pyproject.toml"))
# Variables that switch on optional providers or hold secrets, set to recognisable values.
SWITCHES = {
    "FIREWORKS_API_KEY": "fw-secret-1",
    "TOGETHER_API_KEY": "tg-secret-2",
    "OPENAI_API_KEY": "sk-secret-3",
    "OLLAMA_URL": "http://127.0.0.1:9",
    "VLLM_URL": "http://127.0.0.1:9/v1",
    "VLLM_EMBEDDING_URL": "http://127.0.0.1:9/v1",
    "VLLM_API_TOKEN": "vllm-secret-4",
    "POSTGRES_PASSWORD": "pg-secret-5",
    "TAVILY_SEARCH_API_KEY": "tvly-secret-6",
    "BRAVE_SEARCH_API_KEY": "brave-secret-7",
}


def _env(**extra: str) -> dict[str, str]:
    """This environment without variables the distros read, plus ``extra``."""
    names = {"FIREWORKS", "TOGETHER", "OPENAI", "OLLAMA", "VLLM", "POSTGRES", "LLAMA_STACK", "TAVILY", "BRAVE"}
    clean = {k: v for k, v in os.environ.items() if k.split("_")[0] not in names}
    return {**clean, **extra}


def stack(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_distro_readmes_and_containerfiles_are_generated_from_the_specs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_distro_readmes.py"), "--check"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + "\nrun: .venv/bin/python scripts/generate_distro_readmes.py"


def test_list_distros_shows_every_distro_with_its_providers():
    rows = {line.split()[0]: line for line in stack("list-distros").splitlines()[1:]}
    assert set(DISTROS) <= set(rows)
    for name in DISTROS:
        config = yaml.safe_load(next(ROOT.glob(f"distro-specs/{name}/src/*/run.yaml")).read_text())
        shown = set(rows[name].split("  ")[-1].strip().split(", "))
        always_on = {
            f"{api}={e['provider_type']}"
            for api, entries in config["providers"].items()
            for e in entries
            if not str(e["provider_id"]).startswith("${env.")
        }
        assert shown == always_on, name
    switched_on = stack("list-distros", env=_env(FIREWORKS_API_KEY="k", VLLM_URL="http://127.0.0.1:9/v1"))
    starter = next(line for line in switched_on.splitlines() if line.startswith("starter "))
    assert "inference=remote::fireworks" in starter and "inference=remote::vllm" in starter
    assert "remote::together" not in starter and "remote::fireworks" not in rows["starter"]


@pytest.mark.parametrize("name", DISTROS)
def test_config_print_and_validate_with_every_provider_switched_on(name: str, tmp_path: Path):
    env = _env(**SWITCHES)
    assert stack("config", "validate", name, env=env).strip() == f"{name}: OK"
    out = stack("config", "print", name, env=env)
    printed = yaml.safe_load(out)
    assert printed["distro_name"] == name
    raw = yaml.safe_load(next(ROOT.glob(f"distro-specs/{name}/src/*/run.yaml")).read_text())
    assert [[p["provider_type"] for p in printed["providers"][api]] for api in raw["providers"]] == [
        [p["provider_type"] for p in entries] for entries in raw["providers"].values()
    ]
    for provider in (p for entries in printed["providers"].values() for p in entries):
        assert provider.get("provider_id"), f"{provider['provider_type']} should be switched on"
    for value in SWITCHES.values():
        if "secret" in value:
            assert value not in out, f"stack config print {name} shows a secret"


def test_postgres_distro_reads_its_connection_from_the_environment():
    env = _env(
        POSTGRES_HOST="db.example",
        POSTGRES_PORT="6543",
        POSTGRES_DB="stackdb",
        POSTGRES_USER="stacker",
        POSTGRES_PASSWORD="pg-secret-5",
    )
    printed = yaml.safe_load(stack("config", "print", "postgres", env=env))
    backend = printed["storage"]["backends"]["kv_default"]
    assert (backend["type"], backend["host"], backend["port"], backend["db"], backend["user"]) == (
        "kv_postgres",
        "db.example",
        6543,
        "stackdb",
        "stacker",
    )
    (pgvector,) = printed["providers"]["vector_io"]
    assert pgvector["provider_type"] == "remote::pgvector"
    assert (pgvector["config"]["host"], pgvector["config"]["port"], pgvector["config"]["db"]) == (
        "db.example",
        6543,
        "stackdb",
    )
    for provider in ("files", "telemetry"):  # state in the same database
        assert printed["providers"][provider][0]["config"]["persistence"]["backend"]["type"] == "kv_postgres"
    defaults = yaml.safe_load(stack("config", "print", "postgres"))["storage"]["backends"]["kv_default"]
    assert (defaults["host"], defaults["port"], defaults["db"], defaults["user"]) == (
        "localhost",
        5432,
        "llamastack",
        "llamastack",
    )


# -- remote distros, served in-process against a scripted vendor ---------------------------------------------------


def _embedding(values: list[float]) -> dict:
    return {
        "object": "list",
        "model": "m",
        "data": [{"object": "embedding", "index": 0, "embedding": values}],
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }


def _storage_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.split("_")[0] in {"FIREWORKS", "TOGETHER", "OPENAI", "OLLAMA", "VLLM"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("SQLITE_STORE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FILES_STORAGE_DIR", str(tmp_path / "files"))


VENDORS = {  # distro: (key variable, base URL variable, provider data key)
    "fireworks": ("FIREWORKS_API_KEY", "FIREWORKS_BASE_URL", "fireworks_api_key"),
    "together": ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "together_api_key"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "openai_api_key"),
}


@pytest.mark.parametrize("name", sorted(VENDORS))
async def test_api_key_distros_serve_their_default_models_through_the_vendor(name, tmp_path, monkeypatch):
    key_var, url_var, provider_data_key = VENDORS[name]
    _storage_env(monkeypatch, tmp_path)
    raw = yaml.safe_load(next(ROOT.glob(f"distro-specs/{name}/src/*/run.yaml")).read_text())
    llm = next(m for m in raw["models"] if m["model_type"] == "llm")
    embedder = next(m for m in raw["models"] if m["model_type"] == "embedding")
    with ScriptedServer() as vendor:
        monkeypatch.setenv(url_var, vendor.base_url)
        monkeypatch.setenv(key_var, f"{name}-key-from-env")
        pm = PluginManager()
        async with stack_client(load_run_config(name, pm), pm) as client:
            models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
            assert {m["model_id"] for m in raw["models"]} <= set(models)
            assert (
                models[embedder["model_id"]]["metadata"]["embedding_dimension"]
                == embedder["metadata"]["embedding_dimension"]
            )

            vendor.reply(json=chat_completion("from the vendor", model=llm["provider_model_id"]))
            answer = await client.post(
                "/v1/chat/completions", json={"model": llm["model_id"], "messages": [{"role": "user", "content": "hi"}]}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["choices"][0]["message"]["content"] == "from the vendor"
            sent = vendor.requests[-1]
            assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
            assert sent.json["model"] == llm["provider_model_id"]
            assert sent.headers["authorization"] == f"Bearer {name}-key-from-env"

            vendor.reply(json=_embedding([0.5] * embedder["metadata"]["embedding_dimension"]))
            vectors = await client.post("/v1/embeddings", json={"model": embedder["model_id"], "input": "hello"})
            assert vectors.status_code == 200, vectors.text
            assert len(vectors.json()["data"][0]["embedding"]) == embedder["metadata"]["embedding_dimension"]
            assert vendor.requests[-1].path == "/v1/embeddings"
            assert vendor.requests[-1].json["model"] == embedder["provider_model_id"]

            # a per-request key wins over the configured one
            vendor.reply(json=chat_completion("again"))
            header = {"X-LlamaStack-Provider-Data": f'{{"{provider_data_key}": "per-request"}}'}
            assert (
                await client.post(
                    "/v1/chat/completions",
                    headers=header,
                    json={"model": llm["model_id"], "messages": [{"role": "user", "content": "hi"}]},
                )
            ).status_code == 200
            assert vendor.requests[-1].headers["authorization"] == "Bearer per-request"

            # local vector stores, files and traces are served too
            providers = {p["api"]: p["provider_type"] for p in (await client.get("/v1/providers")).json()["data"]}
            assert providers == {
                "inference": f"remote::{name}",
                "vector_io": "inline::sqlite-vec",
                "files": "inline::localfs",
                "telemetry": "inline::trace-store",
            }


async def test_api_key_distro_without_a_key_answers_401_without_calling_the_vendor(tmp_path, monkeypatch):
    _storage_env(monkeypatch, tmp_path)
    with ScriptedServer() as vendor:
        monkeypatch.setenv("FIREWORKS_BASE_URL", vendor.base_url)
        pm = PluginManager()
        async with stack_client(load_run_config("fireworks", pm), pm) as client:
            answer = await client.post(
                "/v1/chat/completions",
                json={"model": "llama-3.1-8b-instruct", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert answer.status_code == 401, answer.text
            assert "api_key" in answer.json()["error"]["message"]
        assert not [r for r in vendor.requests if r.path.endswith("/chat/completions")]


async def test_ollama_distro_registers_what_the_server_has_pulled(tmp_path, monkeypatch):
    _storage_env(monkeypatch, tmp_path)
    with ScriptedServer() as ollama:
        ollama.reply(
            json={
                "models": [
                    {"name": "llama3.2:3b", "details": {"family": "llama"}},
                    {"name": "all-minilm:latest", "details": {"family": "bert"}},
                ]
            }
        )
        ollama.reply(
            json={
                "capabilities": ["completion", "tools"],
                "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
            }
        )
        ollama.reply(
            json={
                "capabilities": ["embedding"],
                "model_info": {
                    "general.architecture": "bert",
                    "bert.embedding_length": 384,
                    "bert.context_length": 512,
                },
            }
        )
        monkeypatch.setenv("OLLAMA_URL", ollama.base_url.removesuffix("/v1"))
        pm = PluginManager()
        async with stack_client(load_run_config("ollama", pm), pm) as client:
            models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
            assert models["ollama/llama3.2:3b"]["model_type"] == "llm"
            assert models["ollama/all-minilm:latest"]["model_type"] == "embedding"
            assert models["ollama/all-minilm:latest"]["metadata"]["embedding_dimension"] == 384
            assert [r.path for r in ollama.requests] == ["/api/tags", "/api/show", "/api/show"]

            ollama.reply(json=chat_completion("from ollama", model="llama3.2:3b"))
            answer = await client.post(
                "/v1/chat/completions",
                json={"model": "ollama/llama3.2:3b", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["choices"][0]["message"]["content"] == "from ollama"
            assert (ollama.requests[-1].path, ollama.requests[-1].json["model"]) == (
                "/v1/chat/completions",
                "llama3.2:3b",
            )

            # a vector store picks the registered embedding model by default
            ollama.reply(json=_embedding([0.1] * 384))
            store = await client.post("/v1/vector_stores", json={"name": "docs"})
            assert store.status_code == 200, store.text
            assert store.json()["metadata"]["embedding_model"] == "ollama/all-minilm:latest"


async def test_ollama_distro_starts_when_the_server_is_down(tmp_path, monkeypatch):
    _storage_env(monkeypatch, tmp_path)
    monkeypatch.setenv("OLLAMA_URL", "http://127.0.0.1:9")
    pm = PluginManager()
    async with stack_client(load_run_config("ollama", pm), pm) as client:
        assert (await client.get("/v1/health")).status_code == 200
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "ollama/llama3.2:3b", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answer.status_code == 502, answer.text


async def test_vllm_distro_registers_the_served_model_and_an_optional_embedding_server(tmp_path, monkeypatch):
    _storage_env(monkeypatch, tmp_path)
    with ScriptedServer() as vllm, ScriptedServer() as embedder:
        vllm.reply(
            json={
                "object": "list",
                "data": [{"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "max_model_len": 8192}],
            }
        )
        monkeypatch.setenv("VLLM_URL", vllm.base_url)
        monkeypatch.setenv("VLLM_API_TOKEN", "vllm-token")
        monkeypatch.setenv("VLLM_EMBEDDING_URL", embedder.base_url)
        pm = PluginManager()
        async with stack_client(load_run_config("vllm", pm), pm) as client:
            models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
            assert models["vllm/meta-llama/Llama-3.1-8B-Instruct"]["model_type"] == "llm"
            vllm.reply(json=chat_completion("from vllm"))
            answer = await client.post(
                "/v1/chat/completions",
                json={
                    "model": "vllm/meta-llama/Llama-3.1-8B-Instruct",
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
            assert answer.status_code == 200, answer.text
            assert vllm.requests[-1].headers["authorization"] == "Bearer vllm-token"
            assert vllm.requests[-1].json["model"] == "meta-llama/Llama-3.1-8B-Instruct"

            registered = await client.post(
                "/v1/models",
                json={
                    "model_id": "bge",
                    "provider_id": "vllm-embedding",
                    "provider_model_id": "BAAI/bge-base-en-v1.5",
                    "model_type": "embedding",
                    "metadata": {"embedding_dimension": 768},
                },
            )
            assert registered.status_code == 200, registered.text
            embedder.reply(json=_embedding([0.2] * 768))
            vectors = await client.post("/v1/embeddings", json={"model": "bge", "input": "hello"})
            assert vectors.status_code == 200, vectors.text
            assert (embedder.requests[-1].path, embedder.requests[-1].json["model"]) == (
                "/v1/embeddings",
                "BAAI/bge-base-en-v1.5",
            )


def test_a_distro_whose_config_cannot_load_is_listed_without_hiding_the_others(tmp_path: Path):
    (tmp_path / "broken.yaml").write_text(
        "version: 2\nproviders:\n  inference:\n"
        "  - {provider_id: x, provider_type: remote::openai, "
        "config: {api_key: '${env.NEVER_SET_ANYWHERE_KEY}'}}\n"
    )
    (tmp_path / "broken_distro_plugin.py").write_text(
        "from pathlib import Path\n"
        "from llama_stack_core.distros import DistroSpec\n"
        "from llama_stack_core.hookspecs import hookimpl\n\n"
        "@hookimpl\n"
        "def register_distros():\n"
        f"    return [DistroSpec(name='broken', description='needs a key', run_config=Path({str(tmp_path / 'broken.yaml')!r}))]\n"
    )
    env = _env(PYTHONPATH=str(tmp_path), LLAMA_STACK_PLUGINS="broken_distro_plugin")
    rows = {line.split()[0]: line for line in stack("list-distros", env=env).splitlines()[1:]}
    assert "unusable" in rows["broken"] and "NEVER_SET_ANYWHERE_KEY" in rows["broken"]
    assert set(DISTROS) <= set(rows) and "inference=" in rows["starter"]
