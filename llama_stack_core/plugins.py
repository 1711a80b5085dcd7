"""The plugin manager: discovers plugins by entry point and collects what they declare.

Environment variables:
- ``LLAMA_STACK_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins (only those named below).
- ``LLAMA_STACK_PLUGINS=pkg.mod,other.mod``: import and register these modules as plugins as well.
- ``LLAMA_STACK_BLOCK_PLUGINS=name,...``: skip entry points with these names.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from functools import cached_property
from typing import Any

import pluggy

from . import hookspecs
from .apis.routes import Api
from .distros import DistroSpec
from .errors import ConfigError
from .providers import PluginInfo, ProviderSpec, RegisteredProviderSpec

ENTRY_POINT_GROUP = "llama_stack"

log = logging.getLogger(__name__)


def _split_env(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class PluginManager:
    """A pluggy PluginManager plus typed accessors for the specs plugins declare."""

    def __init__(self, *, autoload: bool | None = None, extra_plugins: list[Any] = ()) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        if autoload is None:
            autoload = os.environ.get("LLAMA_STACK_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0", "false")
        for name in _split_env("LLAMA_STACK_BLOCK_PLUGINS"):
            self.pm.set_blocked(name)
        self._dists: dict[int, tuple[str, str]] = {}
        self.failed: dict[str, str] = {}  # entry point name -> why it could not be loaded
        if autoload:
            self._load_entry_points()
        for module_name in _split_env("LLAMA_STACK_PLUGINS"):
            try:
                self.register(importlib.import_module(module_name), module_name)
            except ImportError as exc:
                raise ConfigError(f"LLAMA_STACK_PLUGINS: cannot import {module_name}: {exc}") from exc
        for plugin in extra_plugins:
            self.register(plugin)
        self.pm.check_pending()

    def _load_entry_points(self) -> None:
        """Load every ``llama_stack`` entry point. A plugin that fails to import is skipped with a warning (listed in
        ``failed``) so one broken package cannot take the whole server down."""
        for dist in importlib.metadata.distributions():
            for entry_point in dist.entry_points:
                if entry_point.group != ENTRY_POINT_GROUP or self.pm.is_blocked(entry_point.name):
                    continue
                if self.pm.get_plugin(entry_point.name) is not None:
                    continue
                try:
                    plugin = entry_point.load()
                    self.pm.register(plugin, name=entry_point.name)
                    self.pm.check_pending()  # a misspelled hook disqualifies this plugin only
                except Exception as exc:
                    if self.pm.has_plugin(entry_point.name):
                        self.pm.unregister(name=entry_point.name)
                    self.failed[entry_point.name] = f"{dist.metadata['name']}: {type(exc).__name__}: {exc}"
                    log.warning("skipping plugin %s: %s", entry_point.name, self.failed[entry_point.name])
                    continue
                self._dists[id(plugin)] = (dist.metadata["name"], dist.version)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def register(self, plugin: Any, name: str | None = None) -> None:
        if self.pm.is_registered(plugin):
            return
        self.pm.register(plugin, name)
        self.pm.check_pending()
        self.__dict__.pop("provider_specs", None)
        self.__dict__.pop("_distros", None)

    def plugin_info(self, plugin: Any) -> PluginInfo:
        name = self.pm.get_name(plugin) or repr(plugin)
        package, version = self._dists.get(id(plugin), (None, None))
        return PluginInfo(name=name, package=package, version=version)

    def _call_each(self, hook_name: str) -> list[tuple[Any, Any]]:
        """Call every implementation of a no-argument hook, keeping track of which plugin answered."""
        caller = getattr(self.pm.hook, hook_name)
        return [(impl.plugin, impl.function()) for impl in reversed(caller.get_hookimpls())]

    @cached_property
    def provider_specs(self) -> dict[str, RegisteredProviderSpec]:
        """Every provider type declared by a plugin, keyed by ``provider_type`` qualified with its API."""
        specs: dict[str, RegisteredProviderSpec] = {}
        for api in Api:
            for plugin, result in self._call_each(f"register_{api.value}_providers"):
                for spec in result or ():
                    if not isinstance(spec, ProviderSpec) or spec.api != api:
                        raise ConfigError(
                            f"plugin {self.pm.get_name(plugin)}: register_{api.value}_providers must return "
                            f"ProviderSpec objects for api '{api.value}', got {spec!r}"
                        )
                    key = f"{api.value}:{spec.provider_type}"
                    info = self.plugin_info(plugin)
                    if key in specs:
                        other = specs[key].plugin
                        raise ConfigError(
                            f"provider {spec.provider_type} for {api.value} is declared by both "
                            f"{other.package or other.name} and {info.package or info.name}"
                        )
                    specs[key] = RegisteredProviderSpec(spec=spec, plugin=info)
        return specs

    def provider_spec(self, api: Api, provider_type: str) -> RegisteredProviderSpec | None:
        return self.provider_specs.get(f"{api.value}:{provider_type}")

    @cached_property
    def _distros(self) -> dict[str, DistroSpec]:
        distros: dict[str, DistroSpec] = {}
        for _plugin, result in self._call_each("register_distros"):
            for distro in result or ():
                distros[distro.name] = distro
        return distros

    def distros(self) -> dict[str, DistroSpec]:
        return self._distros
