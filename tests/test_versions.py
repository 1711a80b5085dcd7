"""Version rules across the repository, checked from the pyproject files (no build, no network):

- every plugin depends on a *compatible range* of llama-stack-core that contains the current core version (never
  ``==``: users combine many plugins with one core);
- every distro pins *exact* versions (``==``) of the core and of every plugin its run config names, and of nothing
  else; the pinned versions are the versions in those packages' pyprojects;
- the core's pyproject version is ``llama_stack_core.__version__``, and what is installed in this venv is what the
  pyprojects say (a stale editable install would test other metadata than the one that ships);
- every plugin in the repository is built for the provider API this core implements.

(That the core *refuses* at start-up a provider built for another provider API version is tested in
tests/test_plugins.py and, through a pip-installed package and ``stack serve``, in tests/test_external_plugin.py.)
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import llama_stack_core
from llama_stack_core import PROVIDER_API_VERSION
from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import ENTRY_POINT_GROUP, PluginManager

ROOT = Path(__file__).resolve().parent.parent
CORE = "llama-stack-core"


def _pyproject(directory: Path) -> dict:
    return tomllib.loads((directory / "pyproject.toml").read_text())


PLUGINS = sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))
DISTROS = sorted(p.parent for p in ROOT.glob("distro-specs/*/pyproject.toml"))
PROJECTS = {_pyproject(d)["project"]["name"]: d for d in [ROOT, *PLUGINS, *DISTROS]}
VERSIONS = {name: _pyproject(d)["project"]["version"] for name, d in PROJECTS.items()}


def _requirements(project: dict, *, optional: bool = True) -> list[Requirement]:
    found = [Requirement(r) for r in project.get("dependencies", [])]
    if optional:
        for extra in project.get("optional-dependencies", {}).values():
            found += [Requirement(r) for r in extra]
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _next_breaking(version: Version) -> Version:
    """The first version a plugin built against ``version`` must not accept: the next minor while 0.x, else the
    next major."""
    return Version(f"0.{version.minor + 1}") if version.major == 0 else Version(f"{version.major + 1}")


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    return PluginManager()


def test_core_version_is_one_number_everywhere():
    assert VERSIONS[CORE] == llama_stack_core.__version__
    assert importlib.metadata.version(CORE) == llama_stack_core.__version__


@pytest.mark.parametrize("directory", [*PLUGINS, *DISTROS], ids=lambda d: d.name)
def test_installed_metadata_is_the_pyproject(directory: Path):
    project = _pyproject(directory)["project"]
    name = project["name"]
    assert importlib.metadata.version(name) == project["version"], (
        f"{name}: the installed metadata is stale; re-run scripts/setup.sh"
    )
    installed = {
        _canonical(Requirement(r).name): str(Requirement(r).specifier)
        for r in importlib.metadata.requires(name) or ()
        if "extra ==" not in r
    }
    declared = {_canonical(r.name): str(r.specifier) for r in _requirements(project, optional=False)}
    assert installed == declared, f"{name}: installed dependencies differ from pyproject.toml; re-run scripts/setup.sh"


@pytest.mark.parametrize("directory", PLUGINS, ids=lambda d: d.name)
def test_plugins_depend_on_a_compatible_core_range(directory: Path):
    project = _pyproject(directory)["project"]
    assert project["name"] == directory.name, "a plugin's folder is named after its distribution"
    assert project["name"].startswith("llama-stack-provider-")
    core = Version(llama_stack_core.__version__)
    main = [r for r in _requirements(project, optional=False) if _canonical(r.name) == CORE]
    assert len(main) == 1, f"{project['name']} must depend on {CORE} (once) in [project].dependencies"
    for requirement in _requirements(project):
        name = _canonical(requirement.name)
        if not name.startswith("llama-stack-"):
            continue
        operators = {spec.operator for spec in requirement.specifier}
        assert not operators & {"==", "==="}, (
            f"{project['name']}: '{requirement}' pins an exact version; plugins "
            "depend on a compatible range (only distros pin)"
        )
        if name == CORE and requirement.specifier:
            assert requirement.specifier.contains(core, prereleases=True), (
                f"{project['name']}: '{requirement}' excludes the core it is tested with ({core})"
            )
    (range_,) = main
    spec = range_.specifier
    assert spec.contains(core, prereleases=True), f"{project['name']}: '{range_}' excludes the current core {core}"
    assert any(s.operator in ("<", "~=") for s in spec), f"{project['name']}: '{range_}' has no upper bound"
    assert not spec.contains(_next_breaking(core), prereleases=True), (
        f"{project['name']}: '{range_}' accepts {_next_breaking(core)}, which may break the provider API"
    )


def test_repository_plugins_are_built_for_this_provider_api(pm: PluginManager):
    ours = {_pyproject(d)["project"]["name"] for d in PLUGINS}
    specs = [r for r in pm.provider_specs.values() if r.plugin.package in ours]
    assert {r.plugin.package for r in specs} == ours, "every plugin in plugins/ is installed and declares providers"
    for registered in specs:
        assert registered.spec.compatible, (
            f"{registered.plugin.package}: {registered.spec.provider_type} is built for provider API "
            f"{registered.spec.core_api_version}; the core implements {PROVIDER_API_VERSION}"
        )
        assert SpecifierSet(registered.spec.core_api_version).contains(PROVIDER_API_VERSION)


def _provider_packages(pm: PluginManager) -> dict[tuple[str, str], str]:
    return {(r.spec.api.value, r.spec.provider_type): r.plugin.package for r in pm.provider_specs.values()}


@pytest.mark.parametrize("directory", DISTROS, ids=lambda d: d.name)
def test_distros_pin_exactly_the_core_and_the_plugins_they_use(directory: Path, pm: PluginManager):
    project = _pyproject(directory)["project"]
    name = project["name"]
    assert name == f"llama-stack-distro-{directory.name}"
    (run_yaml,) = directory.glob("src/*/run.yaml")
    raw = yaml.safe_load(run_yaml.read_text())
    packages = _provider_packages(pm)
    used = {CORE}
    for api, entries in raw["providers"].items():
        assert api in Api.__members__, f"{run_yaml}: unknown API {api}"
        for entry in entries:  # switched-off providers (provider_id: ${env.X:+id}) count: the config names them
            package = packages.get((api, entry["provider_type"]))
            assert package in PROJECTS, (
                f"{run_yaml}: {entry['provider_type']} is not provided by a plugin in "
                f"this repository (installed: {package})"
            )
            used.add(package)
    pins: dict[str, str] = {}
    for requirement in _requirements(project):
        (spec,) = requirement.specifier  # exactly one specifier ...
        assert spec.operator == "==", f"{name}: '{requirement}' must pin an exact version (==)"  # ... and it is ==
        assert requirement.marker is None, f"{name}: '{requirement}': no environment markers in a distro"
        pins[_canonical(requirement.name)] = spec.version
    assert set(pins) == used, (
        f"{name}: pins {sorted(set(pins) - used)} that its run config does not use"
        if set(pins) - used
        else f"{name}: does not pin {sorted(used - set(pins))}"
    )
    for package, version in pins.items():
        assert version == VERSIONS[package], (
            f"{name} pins {package}=={version}, but the repository has {VERSIONS[package]}"
        )


def test_every_pin_in_the_repository_matches_the_pinned_package():
    """Anything that names ``llama-stack-<...>==<version>`` (pyprojects, Containerfiles, docs, manifests) names the
    version in that package's pyproject."""
    pattern = re.compile(
        r"\b(llama-stack-(?:core|provider-[a-z0-9-]+|distro-[a-z0-9-]+))(?:\[[a-z,]+\])?"
        r"==([0-9][0-9a-zA-Z.+!-]*[0-9a-zA-Z])"
    )
    files = []
    for directory, subdirs, names in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in {"dist", "build", "__pycache__"}]
        files += [Path(directory, n) for n in names if Path(n).suffix in {".toml", ".md", ".yaml", ".yml", ".txt", ""}]
    checked = 0
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for package, version in pattern.findall(text):
            if package in VERSIONS:
                checked += 1
                assert version == VERSIONS[package], (
                    f"{path.relative_to(ROOT)}: {package}=={version}, but its pyproject says {VERSIONS[package]}"
                )
    assert checked >= len(DISTROS) * 3


def test_entry_point_names_are_unique():
    """The plugin manager registers entry points by name: a distro named like a plugin would be silently skipped."""
    seen: dict[str, str] = {}
    for name, directory in PROJECTS.items():
        for entry_name in _pyproject(directory)["project"].get("entry-points", {}).get(ENTRY_POINT_GROUP, {}):
            assert entry_name not in seen, (
                f"entry point '{entry_name}' is declared by {seen.get(entry_name)} and {name}"
            )
            seen[entry_name] = name


def test_every_distro_is_registered_under_its_folder_name(pm: PluginManager):
    assert {d.name for d in DISTROS} <= set(pm.distros())
