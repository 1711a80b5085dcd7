"""``${env.NAME}``, ``${env.NAME:=default}`` and ``${env.NAME:+value}`` substitution in run configs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

_PATTERN = re.compile(r"\$\{env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:=|:\+)(?P<arg>[^}]*))?\}")


def _replace(match: re.Match[str], environ: Mapping[str, str], where: str) -> str:
    name, op, arg = match["name"], match["op"], match["arg"] or ""
    value = environ.get(name)
    if op == ":=":
        return value if value else arg
    if op == ":+":
        return arg if value else ""
    if value is None:
        raise ConfigError(f"{where}: environment variable {name} is not set (use ${{env.{name}:=default}})")
    return value


def substitute_env(data: Any, environ: Mapping[str, str] | None = None, where: str = "config") -> Any:
    """Return ``data`` with every env reference in its strings replaced.

    A string that is nothing but one reference and resolves to empty becomes ``None``, so optional fields and
    ``provider_id: ${env.X:+name}`` switches read naturally.
    """
    environ = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {key: substitute_env(value, environ, f"{where}.{key}") for key, value in data.items()}
    if isinstance(data, list):
        return [substitute_env(value, environ, f"{where}[{i}]") for i, value in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data
    result = _PATTERN.sub(lambda m: _replace(m, environ, where), data)
    if result == "" and _PATTERN.fullmatch(data):
        return None
    return result
