"""A third-party provider package, written by hand (not scaffolded), pip-installed and served by ``stack serve``.

Checks what a plugin author relies on: the ``llama_stack`` entry point is discovered, ``stack list-providers`` names
the package and its version, a real server routes requests to the plugin, and a plugin built for another provider API
version is refused at start-up with a message naming the package and the version problem.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from llama_stack_core.testing.harness import make_run_config, served_stack

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "llama_stack_core.cli.main"]
PREFIX = "exttest"  # package names: llama-stack-provider-exttest-...

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{package}"
version = "{version}"
requires-python = ">=3.11"
dependencies = ["llama-stack-core>=0.1,<0.2"]

[project.entry-points.llama_stack]
{name} = "{module}"

[tool.hatch.build.targets.wheel]
packages = ["{module}"]
dev-mode-dirs = ["."]
"""

MODULE = '''\
"""An inference provider that greets: answers a chat with "<greeting> from <name>: <last user message>"."""

import time

from pydantic import BaseModel, ConfigDict

from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec


class GreeterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


class Greeter:
    def __init__(self, config):
        self.config = config
        self.models = {{}}

    async def register_model(self, model):
        self.models[model.provider_resource_id] = model

    async def unregister_model(self, model):
        self.models.pop(model.provider_resource_id, None)

    async def openai_chat_completion(self, request):
        if request.model not in self.models:
            raise BadRequestError(f"unknown model {{request.model}}", param="model")
        text = f"{{self.config.greeting}} from {name}: {{request.messages[-1].content}}"
        message = {{"role": "assistant", "content": text}}
        return {{"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": request.model,
                 "choices": [{{"index": 0, "message": message, "finish_reason": "stop"}}]}}

    async def openai_completion(self, request):
        raise NotImplementedError("no text completions")

    async def openai_embeddings(self, request):
        raise NotImplementedError("no embeddings")


def create(config, deps):
    return Greeter(config)


@hookimpl
def register_inference_providers():
    return [ProviderSpec(api=Api.inference, provider_type="inline::{name}", config_class=GreeterConfig,
                         factory="{module}:create", core_api_version="{core_api_version}")]
'''


def _env() -> dict[str, str]:
    """The environment without switches that change which plugins load."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LLAMA_STACK_")}


def _run(args: list[str], *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=timeout)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pip", *args])


def _install_flags() -> list[str]:
    if importlib.util.find_spec("hatchling") is not None:
        return ["--no-deps", "--no-build-isolation"]
    return []


def _remove_stale_installs() -> None:
    """Uninstall packages an interrupted earlier run left behind (their editable source is gone)."""
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if not name.startswith(f"llama-stack-provider-{PREFIX}-"):
            continue
        direct_url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        source = Path(urllib.parse.urlparse(direct_url).path) if direct_url.startswith("file:") else None
        if source is None or not source.exists():
            _pip("uninstall", "-y", name)


class Plugin:
    """A hand-written provider package in a temp folder."""

    def __init__(self, directory: Path, *, version: str, core_api_version: str = ">=1.0,<2") -> None:
        self.name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
        self.package = f"llama-stack-provider-{self.name}"
        self.module = self.name.replace("-", "_")
        self.provider_type = f"inline::{self.name}"
        self.version = version
        self.root = directory / self.package
        (self.root / self.module).mkdir(parents=True)
        fields = dict(
            name=self.name, package=self.package, module=self.module, version=version, core_api_version=core_api_version
        )
        (self.root / "pyproject.toml").write_text(PYPROJECT.format(**fields))
        (self.root / self.module / "__init__.py").write_text(MODULE.format(**fields))

    def run_config(self, directory: Path, **config: str) -> dict:
        entry = {"provider_id": "greeter", "provider_type": self.provider_type, "config": config}
        return make_run_config({"inference": [entry]}, directory)


@contextmanager
def _venv_lock() -> Iterator[None]:
    """Serialise the slow tests that pip-install packages into this venv, across concurrent test sessions.

    A process that starts before a package is installed sees its entry point but cannot import it (its .pth was
    not read), and the core treats an unloadable plugin as fatal; so only one such test may own the venv at a time.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    name = "llama-stack-core-plugin-tests-" + hashlib.sha1(sys.prefix.encode()).hexdigest()[:12] + ".lock"
    with open(Path(tempfile.gettempdir()) / name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def installed(plugin: Plugin) -> Iterator[None]:
    with _venv_lock():
        _remove_stale_installs()
        try:
            result = _pip("install", "--quiet", *_install_flags(), "-e", str(plugin.root))
            assert result.returncode == 0, result.stdout + result.stderr
            yield
        finally:
            _pip("uninstall", "--yes", plugin.package)


def _listed(api: str) -> list[list[str]]:
    result = _run([*CLI, "list-providers", "--api", api], timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split()[:4] for line in result.stdout.splitlines()[1:]]


def test_installed_plugin_is_listed_and_served(tmp_path: Path) -> None:
    plugin = Plugin(tmp_path, version="0.3.1")
    with installed(plugin):
        assert ["inference", plugin.provider_type, plugin.package, "0.3.1"] in _listed("inference")

        with (
            served_stack(plugin.run_config(tmp_path, greeting="howdy"), tmp_path) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as client,
        ):
            info = client.get("/v1/providers/greeter")
            assert info.status_code == 200, info.text
            assert {k: info.json()[k] for k in ("api", "provider_type", "package", "version")} == {
                "api": "inference",
                "provider_type": plugin.provider_type,
                "package": plugin.package,
                "version": "0.3.1",
            }

            registered = client.post("/v1/models", json={"model_id": "greeter-small", "provider_model_id": "small"})
            assert registered.status_code == 200, registered.text
            assert registered.json()["provider_id"] == "greeter"
            assert "greeter-small" in {m["id"] for m in client.get("/v1/models").json()["data"]}

            response = client.post(
                "/v1/chat/completions",
                json={"model": "greeter-small", "messages": [{"role": "user", "content": "ping"}]},
            )
            assert response.status_code == 200, response.text
            message = response.json()["choices"][0]["message"]
            assert (message["role"], message["content"]) == ("assistant", f"howdy from {plugin.name}: ping")

            # An error the plugin raises comes back in the stack's error shape.
            refused = client.post(
                "/v1/chat/completions",
                json={"model": "greeter/other", "messages": [{"role": "user", "content": "ping"}]},
            )
            assert refused.status_code == 400, refused.text
            assert "unknown model other" in refused.json()["error"]["message"]
    assert plugin.package not in {row[2] for row in _listed("inference")}


def test_plugin_for_another_provider_api_version_is_refused(tmp_path: Path) -> None:
    plugin = Plugin(tmp_path, version="2.0.0", core_api_version=">=2,<3")
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(plugin.run_config(tmp_path)))
    with installed(plugin):
        assert ["inference", plugin.provider_type, plugin.package, "2.0.0"] in _listed("inference")
        listing = _run([*CLI, "list-providers", "--api", "inference"], timeout=60).stdout
        assert "incompatible: built for core API >=2,<3" in next(
            row for row in listing.splitlines() if plugin.package in row
        )
        result = _run([*CLI, "serve", str(config_path), "--host", "127.0.0.1", "--port", "0"], timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    (error,) = [line for line in output.splitlines() if plugin.package in line]
    assert error.startswith("error: ") and ">=2,<3" in error and "version" in error, output
