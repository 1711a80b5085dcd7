"""The optional provider methods are named Protocols; the core calls a method only through its contract."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import stack_test_plugin
from pydantic import BaseModel
from stack_test_plugin import EchoConfig, EchoInference, Recorder, SpanRecorder

from llama_stack_core import provider_contracts as contracts
from llama_stack_core.apis.resources import RESOURCE_KINDS
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import ConfigError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.inference.openai_compat import OpenAICompatConfig, OpenAICompatInference
from llama_stack_core.plugins import PluginManager
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.tracing import SpanExporter as ReExportedSpanExporter

PROTOCOLS = [
    obj
    for obj in vars(contracts).values()
    if inspect.isclass(obj)
    and getattr(obj, "_is_protocol", False)
    and obj.__module__ in (contracts.__name__, "llama_stack_core.tracing")
]


def methods(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if inspect.iscoroutinefunction(value)]


def test_every_contract_is_one_documented_runtime_checkable_async_method():
    assert len(PROTOCOLS) >= 27
    for protocol in PROTOCOLS:
        assert getattr(protocol, "_is_runtime_protocol", False), protocol
        assert len(methods(protocol)) == 1, protocol
        assert protocol.__doc__ and len(protocol.__doc__) > 20, protocol


def test_resource_contracts_cover_every_resource_kind_under_the_names_the_core_calls():
    assert list(contracts.RESOURCE_CONTRACTS) == list(RESOURCE_KINDS)
    for resource_type, entry in contracts.RESOURCE_CONTRACTS.items():
        kind = RESOURCE_KINDS[resource_type]
        assert entry.plural == kind.plural
        assert methods(entry.registers) == [f"register_{kind.type}"]
        assert methods(entry.unregisters) == [f"unregister_{kind.type}"]
        assert methods(entry.discovers) == [f"discover_{kind.plural}"]


def test_the_core_finds_resource_methods_only_where_the_contract_holds():
    echo, recorder = EchoInference(EchoConfig()), Recorder()
    model = contracts.RESOURCE_CONTRACTS["model"]
    shield = contracts.RESOURCE_CONTRACTS["shield"]
    assert model.register_method(echo) == echo.register_model
    assert model.discover_method(echo) == echo.discover_models
    assert shield.register_method(echo) is None and shield.discover_method(echo) is None
    assert shield.register_method(recorder) is not None and shield.unregister_method(recorder) is not None
    assert model.register_method(recorder) is None and shield.discover_method(recorder) is None


def test_shipped_providers_keep_the_contracts_they_implement():
    compat = OpenAICompatInference(OpenAICompatConfig(base_url="http://127.0.0.1:1/v1"), name="c")
    for protocol in (contracts.DiscoversModels, contracts.ReportsHealth, contracts.ShutsDown):
        assert isinstance(compat, protocol), protocol
    assert not isinstance(compat, contracts.SpanExporter)
    spans = SpanRecorder()
    assert isinstance(spans, contracts.SpanExporter) and isinstance(spans, contracts.UsageExporter)
    assert ReExportedSpanExporter is contracts.SpanExporter


def test_the_embedding_provider_tokenizes_with_its_models_tokenizer():
    from llama_stack_provider_sentence_transformers.config import SentenceTransformersConfig
    from llama_stack_provider_sentence_transformers.provider import SentenceTransformersInference

    local = SentenceTransformersInference(SentenceTransformersConfig(preload=False), {})
    assert isinstance(local, contracts.TokenizesText)
    compat = OpenAICompatInference(OpenAICompatConfig(base_url="http://127.0.0.1:1/v1"), name="c")
    assert not isinstance(compat, contracts.TokenizesText)  # remote: the engine estimates instead


@pytest.mark.anyio
async def test_health_is_reported_only_for_providers_with_the_contract(tmp_path, full_config):
    async with stack_client(full_config, PluginManager(extra_plugins=[stack_test_plugin])) as client:
        providers = {p["provider_id"]: p for p in (await client.get("/v1/providers")).json()["data"]}
    assert providers["alpha"]["health"]["status"] == "OK"
    assert providers["safety-rec"]["health"] == {"status": "Not Implemented"}


def test_resource_types_refer_only_to_types_registered_before_them():
    """The stack registers declared resources one type at a time in this order (Stack._register_declared_resources)."""
    from llama_stack_core.apis.resources import RESOURCE_KINDS
    from llama_stack_core.provider_contracts import RESOURCE_CONTRACTS

    order = list(RESOURCE_KINDS)
    assert list(RESOURCE_CONTRACTS) == order
    for position, kind in enumerate(RESOURCE_KINDS.values()):
        for _, target in kind.references:
            assert order.index(target) < position, (kind.type, target)


# -- start-up checks the provider object against its API (issue 18) ----------------------------------------------


class _NothingConfig(BaseModel):
    pass


def _bare_plugin(factory: str, operations: tuple[str, ...] | None = None) -> Any:
    class Plugin:
        @hookimpl
        def register_safety_providers(self) -> list[ProviderSpec]:
            return [
                ProviderSpec(
                    api=Api.safety,
                    provider_type="inline::bare",
                    config_class=_NothingConfig,
                    factory=factory,
                    operations=operations,
                )
            ]

    return Plugin()


def make_object(config: Any, deps: Any) -> Any:
    return object()


class _ShieldOnly:
    async def run_shield(self, request: Any) -> Any:
        return {"violation": None}


def make_shield_only(config: Any, deps: Any) -> Any:
    return _ShieldOnly()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("factory", "operations", "says"),
    [
        (f"{__name__}:make_object", None, "returned object, which lacks run_shield, run_moderation"),
        (f"{__name__}:make_shield_only", None, "returned _ShieldOnly, which lacks run_moderation"),
        (f"{__name__}:no_such_factory", None, "cannot be loaded"),
        ("no_such_module.anywhere:create", None, "cannot be loaded: No module named 'no_such_module'"),
    ],
)
async def test_a_provider_that_does_not_implement_its_api_stops_start_up(tmp_path, factory, operations, says):
    config = make_run_config(
        {"safety": [{"provider_id": "bare", "provider_type": "inline::bare", "config": {}}]}, tmp_path
    )
    pm = PluginManager(autoload=False, extra_plugins=[_bare_plugin(factory, operations)])
    with pytest.raises(ConfigError) as raised:
        async with stack_client(config, pm):
            pass
    message = str(raised.value)
    assert message.startswith("providers.safety 'bare' (inline::bare)") and says in message
    assert "\n" not in message


@pytest.mark.anyio
async def test_a_provider_declaring_the_operations_it_serves_starts_and_the_rest_are_501(tmp_path):
    config = make_run_config(
        {"safety": [{"provider_id": "bare", "provider_type": "inline::bare", "config": {}}]}, tmp_path
    )
    plugin = _bare_plugin(f"{__name__}:make_shield_only", operations=("run_shield",))
    async with stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin])) as http:
        moderation = await http.post("/v1/moderations", json={"input": "hi", "model": "x"})
    assert moderation.status_code in (404, 501), moderation.text
