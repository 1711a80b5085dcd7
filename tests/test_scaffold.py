"""``stack new-provider``: the generated package installs, is listed, stays lazy and passes its own test suite."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.parse
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llama_stack_core.apis.routes import Api
from llama_stack_core.cli import scaffold
from llama_stack_core.cli.scaffold import render_files, scaffold_provider
from llama_stack_core.errors import ConfigError

CLI = [sys.executable, "-m", "llama_stack_core.cli.main"]
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "llama_stack_core" / "cli" / "templates"
PREFIX = "scaffoldtest"  # generated package names: llama-stack-provider-scaffoldtest-...


def _env() -> dict[str, str]:
    """The environment without switches that change which plugins load."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LLAMA_STACK_")}


def _run(args: list[str], *, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pip", *args])


def _install_flags() -> list[str]:
    if importlib.util.find_spec("hatchling") is not None:
        return ["--no-deps", "--no-build-isolation"]
    return []


def _remove_stale_installs(prefix: str) -> None:
    """Uninstall packages an interrupted earlier run left behind (their editable source is gone)."""
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if not name.startswith(f"llama-stack-provider-{prefix}-"):
            continue
        direct_url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        source = Path(urllib.parse.urlparse(direct_url).path) if direct_url.startswith("file:") else None
        if source is None or not source.exists():
            _pip("uninstall", "-y", name)


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
def installed(path: Path, package: str) -> Iterator[None]:
    """``pip install -e path`` into this venv for the duration of the block."""
    with _venv_lock():
        _remove_stale_installs(PREFIX)
        try:
            result = _pip("install", "--quiet", *_install_flags(), "-e", str(path))
            assert result.returncode == 0, result.stdout + result.stderr
            yield
        finally:
            _pip("uninstall", "--yes", package)


def _listed_rows(api: str) -> list[list[str]]:
    result = _run([*CLI, "list-providers", "--api", api], timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split() for line in result.stdout.splitlines()[1:]]


# -- fast checks of the generator --------------------------------------------------------------------------------


@pytest.mark.parametrize("remote", [False, True], ids=["inline", "remote"])
@pytest.mark.parametrize("api", [a.value for a in Api])
def test_every_api_renders_valid_python_and_metadata(api: str, remote: bool) -> None:
    files = render_files("acme-cloud", api, remote=remote)
    module = "llama_stack_provider_acme_cloud"
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        f"src/{module}/__init__.py",
        f"src/{module}/plugin.py",
        f"src/{module}/config.py",
        f"src/{module}/provider.py",
        "tests/test_conformance.py",
    }
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["name"] == "llama-stack-provider-acme-cloud"
    assert project["version"] == "0.1.0"
    assert project["entry-points"]["llama_stack"] == {"acme-cloud": f"{module}.plugin"}
    assert project["optional-dependencies"]["test"] == ["llama-stack-core[testing]"]
    (core,) = [d for d in project["dependencies"] if d.startswith("llama-stack-core")]
    assert "==" not in core and ">=" in core and "<" in core
    plugin = files[f"src/{module}/plugin.py"]
    assert f"def register_{api}_providers()" in plugin
    assert f'provider_type="{"remote" if remote else "inline"}::acme-cloud"' in plugin
    assert f'factory="{module}.provider:create_provider"' in plugin
    assert "import provider" not in plugin and ".provider import" not in plugin
    tests = files["tests/test_conformance.py"]
    if api != "inference":  # the sample call still matches a route of the API
        assert "assert response.status_code == 501" in tests


def test_every_template_file_is_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = set()
    load = scaffold._template

    def recording(path: str):
        loaded.add(f"provider/{path}.tmpl")
        return load(path)

    monkeypatch.setattr(scaffold, "_template", recording)
    for api in Api:
        for remote in (False, True):
            render_files("acme", api.value, remote=remote)
    on_disk = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()}
    assert loaded == on_disk


def test_the_core_wheel_built_from_its_sdist_ships_the_templates(tmp_path: Path) -> None:
    """As scripts/build-wheelhouse.sh builds it: the sdist, then the wheel from the unpacked sdist."""
    pytest.importorskip("hatchling")
    from hatchling.builders.sdist import SdistBuilder
    from hatchling.builders.wheel import WheelBuilder

    sdist = next(SdistBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    wheel = next(WheelBuilder(str(source)).build(directory=str(tmp_path), versions=["standard"]))
    prefix = "llama_stack_core/cli/templates/"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name.removeprefix(prefix): archive.read(name) for name in archive.namelist() if name.startswith(prefix)
        }
    on_disk = {p.relative_to(TEMPLATES).as_posix(): p.read_bytes() for p in TEMPLATES.rglob("*") if p.is_file()}
    assert on_disk and shipped == on_disk


@pytest.mark.parametrize("name", ["Acme", "acme_cloud", "-acme", "acme-", "acme--cloud", "9acme", "", "acmé"])
def test_bad_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid provider name"):
        scaffold_provider(name, "inference", str(tmp_path), remote=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    result = _run([*CLI, "new-provider", "acme", "--api", "infrence", "--directory", str(tmp_path)], timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown API 'infrence'")
    assert "inference" in result.stderr and "Traceback" not in result.stderr
    result = _run([*CLI, "new-provider", "Acme", "--api", "inference", "--directory", str(tmp_path)], timeout=60)
    assert result.returncode == 2
    assert "invalid provider name 'Acme'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    first = scaffold_provider("acme", "safety", str(tmp_path), remote=False)
    (first / "README.md").write_text("mine")
    with pytest.raises(ConfigError, match="already exists"):
        scaffold_provider("acme", "safety", str(tmp_path), remote=True)
    assert (first / "README.md").read_text() == "mine"


# -- the real thing: scaffold, install, list, run the generated tests ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("api", "remote"), [("inference", False), ("safety", True)], ids=["inference", "safety"])
def test_scaffolded_package_installs_and_passes_its_own_tests(api: str, remote: bool, tmp_path: Path) -> None:
    name = f"{PREFIX}-{api.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    package = f"llama-stack-provider-{name}"
    module = f"llama_stack_provider_{name.replace('-', '_')}"
    provider_type = f"{'remote' if remote else 'inline'}::{name}"

    args = [*CLI, "new-provider", name, "--api", api, "--directory", str(tmp_path)]
    result = _run(args + (["--remote"] if remote else []), timeout=60)
    assert result.returncode == 0, result.stderr
    root = tmp_path / package
    assert f"created {root}" in result.stdout
    assert (root / "src" / module / "provider.py").is_file()

    with installed(root, package):
        assert [api, provider_type, package, "0.1.0"] in _listed_rows(api)

        lazy = _run(
            [
                sys.executable,
                "-c",
                f"import sys, {module}.plugin as p; "
                f"p.register_{api}_providers(); assert '{module}.provider' not in sys.modules",
            ],
            timeout=60,
        )
        assert lazy.returncode == 0, lazy.stderr

        tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, timeout=600)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert " passed" in tests.stdout and "failed" not in tests.stdout
    assert package not in {row[2] for row in _listed_rows(api)}
