"""ProviderSpec: what a plugin declares about each provider it offers, and how the stack instantiates it."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import PROVIDER_API_VERSION
from .apis.routes import Api


class ProviderSpec(BaseModel):
    """A provider type offered by a plugin. Cheap to build: importing it must not import the provider's SDK."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    api: Api
    provider_type: str = Field(pattern=r"^(inline|remote)::[A-Za-z0-9_.\-]+$")
    config_class: type[BaseModel] = Field(description="Pydantic model of the provider's config (secrets as SecretStr).")
    factory: str = Field(
        pattern=r"^[\w.]+:[\w.]+$",
        description="'module:function' called as function(config, deps) -> provider; imported only when configured.",
    )
    api_dependencies: tuple[Api, ...] = ()
    optional_api_dependencies: tuple[Api, ...] = ()
    description: str = ""
    core_api_version: str = Field(default=">=1.0,<2", description="Range of PROVIDER_API_VERSION this was built for.")
    capabilities: frozenset[str] = frozenset()
    operations: tuple[str, ...] | None = Field(
        default=None,
        description="The operations of its API it serves (None: all of them; () for an exporter that serves none, "
        "as a telemetry span exporter). The stack checks at start-up that the provider object has each one.",
    )

    @field_validator("core_api_version")
    @classmethod
    def _valid_range(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier as exc:
            raise ValueError(f"core_api_version: {exc}") from None
        return value

    @property
    def compatible(self) -> bool:
        return SpecifierSet(self.core_api_version).contains(PROVIDER_API_VERSION)

    def sample_config(self) -> dict[str, Any]:
        """The config class's ``sample_config()`` if it has one, else its defaults."""
        sample = getattr(self.config_class, "sample_config", None)
        if callable(sample):
            return sample()
        return self.config_class.model_construct().model_dump(mode="json", exclude_unset=False)

    def load_factory(self) -> Any:
        """The factory ``factory`` names; a ``ValueError`` saying what is wrong when it cannot be imported."""
        module_name, _, attr = self.factory.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"its factory '{self.factory}' cannot be loaded: {exc}") from None
        if not callable(target):
            raise ValueError(f"its factory '{self.factory}' is not callable")
        return target

    async def create(self, config: BaseModel, deps: dict[Api, Any]) -> Any:
        """Import the factory and build the provider object."""
        provider = self.load_factory()(config, deps)
        if inspect.isawaitable(provider):
            provider = await provider
        return provider


class PluginInfo(BaseModel):
    """Where a provider spec came from."""

    name: str
    package: str | None = None
    version: str | None = None


class RegisteredProviderSpec(BaseModel):
    """A ProviderSpec with the plugin that declared it."""

    model_config = ConfigDict(frozen=True)

    spec: ProviderSpec
    plugin: PluginInfo


def missing_operations(provider: Any, spec: ProviderSpec) -> list[str]:
    """The operations the provider object should serve and lacks: those its spec declares, else every operation of
    its API's provider Protocol."""
    from .apis import api_spec

    wanted = spec.operations
    if wanted is None:
        protocol = api_spec(spec.api).protocol
        wanted = tuple(name for name, member in vars(protocol).items() if inspect.iscoroutinefunction(member))
    return [name for name in wanted if not callable(getattr(provider, name, None))]
