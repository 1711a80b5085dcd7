"""What the per-API conformance classes share: one stack per test class with the provider under test (and the
providers it needs), an HTTP client bound to it, and the ``openai`` SDK on that client.

A kit class sets ``api``; a provider package's subclass sets ``provider_type`` (and ``provider_config``, or overrides
the class-scoped fixture ``config_under_test``), plus ``supporting_providers`` (or the fixture ``supporting``),
``supporting_resources`` and ``extra_plugins`` when it needs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..plugins import PluginManager
from .harness import make_run_config, stack_client

PROVIDER_ID = "under-test"


class StackKit:
    api: ClassVar[str]
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    #: Other providers the provider under test needs, as run-config ``providers`` entries by API.
    supporting_providers: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    #: Run-config top-level keys it needs (resource lists such as ``{"models": [...]}``).
    supporting_resources: ClassVar[dict[str, Any]] = {}
    #: Plugin modules to load besides the installed entry points.
    extra_plugins: ClassVar[list[Any]] = []

    @pytest.fixture(scope="class")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"

    @pytest.fixture(scope="class")
    @classmethod
    def workdir(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return Path(tmp_path_factory.mktemp(f"{cls.api}-kit"))

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path) -> dict[str, Any]:
        """The provider's config; override to build it from other fixtures."""
        return dict(cls.provider_config)

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path) -> dict[str, list[dict[str, Any]]]:
        """The other providers, by API (``supporting_providers``); override to build them from other fixtures."""
        return {api: list(entries) for api, entries in cls.supporting_providers.items()}

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        """Run-config keys the kit itself adds (e.g. the shield it tests)."""
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def run_config(
        cls,
        workdir: Path,
        config_under_test: dict[str, Any],
        supporting: dict[str, list[dict[str, Any]]],
        resources_under_test: dict[str, Any],
    ) -> dict[str, Any]:
        providers = {api: list(entries) for api, entries in supporting.items()}
        providers.setdefault(cls.api, []).append(
            {"provider_id": PROVIDER_ID, "provider_type": cls.provider_type, "config": config_under_test}
        )
        return make_run_config(providers, workdir, **{**cls.supporting_resources, **resources_under_test})

    @pytest.fixture(scope="class")
    @classmethod
    async def http(cls, run_config: dict[str, Any], anyio_backend: str) -> AsyncIterator[Any]:
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield client

    @pytest.fixture(scope="class")
    @classmethod
    def openai(cls, http: Any) -> Any:
        openai = pytest.importorskip("openai")
        return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)
