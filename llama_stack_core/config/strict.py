"""No silent open doors: the run config's keys are all known, except a short, explicit list of upstream keys that
this server accepts and ignores (each with a one-line warning).

Every model of the run config forbids unknown keys, so a key this server does not implement (``server.rate_limit``, an
``auth`` provider type it lacks, a typo such as ``telemetry.enabeld``) stops ``stack serve`` and ``stack config
validate`` with one line naming it. The keys below come from upstream's run config reference; ignoring them changes
nothing about who may reach what.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

log = logging.getLogger("llama_stack_core.config")

#: Upstream keys accepted as no-ops: dotted path (``*`` matches any key of a mapping) -> why ignoring it is safe.
IGNORED_UPSTREAM_KEYS: dict[str, str] = {
    "container_image": "containers are built outside the stack",
    "external_providers_dir": "providers load as installed Python packages (entry points, or `module:` on an entry)",
    "external_apis_dir": "external APIs are not supported; their routes answer 404",
    "logging": "the log level is set by `stack serve --log-level`",
    "storage.stores.*.max_write_queue_size": "the `inference_store:` section sets the write queue",
    "storage.stores.*.num_writers": "completions are written in batches by one writer (`inference_store:`)",
}


def _pop(data: Any, parts: list[str], prefix: str, found: list[str]) -> None:
    if not isinstance(data, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    keys = list(data) if head == "*" else [head] if head in data else []
    for key in keys:
        path = f"{prefix}{key}"
        if rest:
            _pop(data[key], rest, path + ".", found)
        elif data.pop(key) is not None:  # an env-conditional value left unset is no setting at all
            found.append(path)


def drop_ignored_keys(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``data`` without the accepted upstream no-op keys, and the dotted paths of those that were set."""
    import copy

    data = copy.deepcopy(data)
    found: list[str] = []
    for pattern in IGNORED_UPSTREAM_KEYS:
        _pop(data, pattern.split("."), "", found)
    return data, sorted(found)


def ignored_key_warning(path: str) -> str:
    pattern = next(p for p in IGNORED_UPSTREAM_KEYS if _matches(p, path))
    return (
        f"run config key '{path}' is accepted for upstream compatibility and ignored: {IGNORED_UPSTREAM_KEYS[pattern]}"
    )


def _matches(pattern: str, path: str) -> bool:
    want, have = pattern.split("."), path.split(".")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have))


def key_path(loc: tuple[Any, ...]) -> str:
    """``('providers', 'inference', 0, 'x')`` -> ``providers.inference[0].x``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith("function-"):  # pydantic's validator frames
            out += f".{part}" if out else str(part)
    return out or "(top)"


def unknown_keys(exc: ValidationError) -> list[str]:
    """The dotted paths of the keys a validation error refused as unknown."""
    return [key_path(e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
