"""Finding and loading a run config: a YAML file path or the name of an installed distro."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .env import substitute_env
from .model import RunConfig
from .strict import drop_ignored_keys, unknown_keys

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
    """Substitute env references, drop the accepted upstream no-op keys (kept in ``ignored_keys()``) and validate:
    an unknown key anywhere is one line naming its path."""
    data, ignored = drop_ignored_keys(substitute_env(data, where=where))
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        if unknown := unknown_keys(exc):
            names = ", ".join(unknown)
            raise ConfigError(
                f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {names} (not a setting this server implements)"
            ) from None
        lines = [f"  {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{where} is invalid:\n" + "\n".join(lines)) from None
    config.set_ignored_keys(ignored)
    return config


def load_run_config(source: str, pm: PluginManager) -> RunConfig:
    path = resolve_config_source(source, pm)
    return parse_run_config(read_raw_config(path), where=str(path))
