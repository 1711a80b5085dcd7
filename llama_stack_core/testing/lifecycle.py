"""Resource-lifecycle conformance tests every provider that owns a resource type runs.

Subclass :class:`ResourceLifecycleTests` in your provider package's tests, set the class attributes, and pytest
collects the shared tests (pytest and anyio must be installed: ``pip install 'llama-stack-core[testing]'``)::

    class TestAcmeModels(ResourceLifecycleTests):
        api = "inference"
        provider_type = "remote::acme"
        provider_config = {"url": "http://127.0.0.1:9999"}
        resource_type = "model"
        register_body = {"model_id": "acme-small", "provider_model_id": "small"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from ..apis.resources import RESOURCE_KINDS
from ..apis.routes import Api
from ..plugins import PluginManager
from ..server.core_routes import RESOURCE_PATHS
from .harness import make_run_config, stack_client

PROVIDER_ID = "under-test"


class ResourceLifecycleTests:
    api: ClassVar[str]
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    resource_type: ClassVar[str]
    #: A valid POST body registering one resource on the provider under test (provider_id is filled in).
    register_body: ClassVar[dict[str, Any]]
    #: Other providers the registration needs, as run-config ``providers`` entries by API.
    supporting_providers: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    #: Run-config top-level resource lists the registration needs (e.g. ``{"models": [...]}``).
    supporting_resources: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    #: Plugin objects (modules) to register besides the installed entry points.
    extra_plugins: ClassVar[list[Any]] = []

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def plugin_manager(self) -> PluginManager:
        return PluginManager(extra_plugins=list(self.extra_plugins))

    @pytest.fixture
    def run_config(self, tmp_path: Path) -> dict[str, Any]:
        providers = {api: list(entries) for api, entries in self.supporting_providers.items()}
        providers.setdefault(self.api, []).append(
            {"provider_id": PROVIDER_ID, "provider_type": self.provider_type, "config": self.provider_config}
        )
        return make_run_config(providers, tmp_path, **self.supporting_resources)

    # -- helpers -------------------------------------------------------------------------------------------------

    @property
    def collection(self) -> str:
        return RESOURCE_PATHS[self.resource_type][0]

    @property
    def identifier(self) -> str:
        return self.register_body[RESOURCE_KINDS[self.resource_type].register_request.id_field]

    def body(self, **changes: Any) -> dict[str, Any]:
        return {**self.register_body, "provider_id": PROVIDER_ID, **changes}

    async def identifiers(self, client: Any) -> set[str]:
        response = await client.get(self.collection)
        assert response.status_code == 200, response.text
        return {item["identifier"] for item in response.json()["data"]}

    # -- the shared tests ----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_register_get_list(self, run_config: dict[str, Any], plugin_manager: PluginManager) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            response = await client.post(self.collection, json=self.body())
            assert response.status_code == 200, response.text
            created = response.json()
            assert created["identifier"] == self.identifier
            assert created["provider_id"] == PROVIDER_ID
            assert created["type"] == self.resource_type
            fetched = await client.get(f"{self.collection}/{self.identifier}")
            assert fetched.status_code == 200, fetched.text
            assert fetched.json() == created
            assert self.identifier in await self.identifiers(client)

    @pytest.mark.anyio
    async def test_duplicate_is_409_and_keeps_the_original(
        self, run_config: dict[str, Any], plugin_manager: PluginManager
    ) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            first = (await client.post(self.collection, json=self.body())).json()
            again = await client.post(self.collection, json=self.body())
            assert again.status_code == 409, again.text
            assert "error" in again.json()
            assert (await client.get(f"{self.collection}/{self.identifier}")).json() == first

    @pytest.mark.anyio
    async def test_unregister(self, run_config: dict[str, Any], plugin_manager: PluginManager) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            assert (await client.post(self.collection, json=self.body())).status_code == 200
            removed = await client.delete(f"{self.collection}/{self.identifier}")
            assert removed.status_code == 200, removed.text
            assert (await client.get(f"{self.collection}/{self.identifier}")).status_code == 404
            assert self.identifier not in await self.identifiers(client)
            assert (await client.delete(f"{self.collection}/{self.identifier}")).status_code == 404

    @pytest.mark.anyio
    async def test_survives_restart(self, run_config: dict[str, Any], plugin_manager: PluginManager) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            created = (await client.post(self.collection, json=self.body())).json()
        async with stack_client(run_config, PluginManager(extra_plugins=list(self.extra_plugins))) as client:
            fetched = await client.get(f"{self.collection}/{self.identifier}")
            assert fetched.status_code == 200, fetched.text
            assert fetched.json() == created

    @pytest.mark.anyio
    async def test_unknown_provider_is_400(self, run_config: dict[str, Any], plugin_manager: PluginManager) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            response = await client.post(self.collection, json=self.body(provider_id="no-such-provider"))
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == "provider_id"
            assert self.identifier not in await self.identifiers(client)

    @pytest.mark.anyio
    async def test_missing_id_is_422(self, run_config: dict[str, Any], plugin_manager: PluginManager) -> None:
        id_field = RESOURCE_KINDS[self.resource_type].register_request.id_field
        body = {k: v for k, v in self.body().items() if k != id_field}
        if not RESOURCE_KINDS[self.resource_type].register_request.model_fields[id_field].is_required():
            pytest.skip(f"{id_field} is optional for {self.resource_type}")
        async with stack_client(run_config, plugin_manager) as client:
            before = await self.identifiers(client)
            response = await client.post(self.collection, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["param"] == id_field
            assert await self.identifiers(client) == before

    @pytest.mark.anyio
    async def test_provider_listed_with_secrets_redacted(
        self, run_config: dict[str, Any], plugin_manager: PluginManager
    ) -> None:
        async with stack_client(run_config, plugin_manager) as client:
            response = await client.get(f"/v1/providers/{PROVIDER_ID}")
            assert response.status_code == 200, response.text
            info = response.json()
            assert (info["api"], info["provider_type"]) == (self.api, self.provider_type)
            spec = plugin_manager.provider_spec(Api(self.api), self.provider_type)
            context = client.app.state.stack.config.validation_context()  # `backend: default` in StoreConfig fields
            config = spec.spec.config_class.model_validate(self.provider_config, context=context)
            for name in type(config).model_fields:
                secret = getattr(config, name)
                if isinstance(secret, SecretStr) and secret.get_secret_value():
                    assert secret.get_secret_value() not in response.text
