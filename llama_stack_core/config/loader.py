"""Finding and loading a run config: a YAML file path or the name of an installed distro."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .env import substitute_env
from .model import RunConfig

if TYPE_CHECKING:
    from ..plugins import PluginManager


def resolve_config_source(source: str, pm: PluginManager) -> Path:
    """Map ``source`` (a file path or a distro name) to the YAML file to load."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    distros = pm.distros()
    if source in distros:
        return distros[source].run_config
    if path.suffix in {".yaml", ".yml"} or "/" in source:
        raise ConfigError(f"run config file not found: {source}")
    known = ", ".join(sorted(distros)) or "none installed"
    raise ConfigError(f"'{source}' is neither a run config file nor an installed distro (distros: {known})")


def read_raw_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a run config must be a YAML mapping")
    return data


def parse_run_config(data: dict[str, Any], where: str = "config") -> RunConfig:
    """Substitute env references and validate."""
    try:
        return RunConfig.model_validate(substitute_env(data, where=where))
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{where} is invalid:\n" + "\n".join(lines)) from None


def load_run_config(source: str, pm: PluginManager) -> RunConfig:
    path = resolve_config_source(source, pm)
    return parse_run_config(read_raw_config(path), where=str(path))
