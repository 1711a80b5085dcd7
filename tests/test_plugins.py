"""Plugin discovery and hooks: validation and lifecycle hooks, pluggy strictness, env switches, spec conflicts."""

from __future__ import annotations

import types

import pytest
import stack_test_plugin
from pydantic import BaseModel
from stack_test_plugin import echo_providers

from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import ConfigError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.plugins import PluginManager
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio


def plugin(**hooks) -> types.ModuleType:
    module = types.ModuleType("inline_test_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


async def test_validate_hooks_can_refuse_registrations(tmp_path):
    def validate_model(model):
        if model.identifier.startswith("forbidden"):
            raise ValueError("names starting with 'forbidden' are reserved")

    def validate_shield(shield):
        if not shield.params:
            raise ValueError("shields need params")

    pm = PluginManager(
        extra_plugins=[stack_test_plugin, plugin(validate_model=validate_model, validate_shield=validate_shield)]
    )
    config = make_run_config(
        {
            "inference": echo_providers("e"),
            "safety": [{"provider_id": "s", "provider_type": "inline::recorder", "config": {}}],
        },
        tmp_path,
    )
    async with stack_client(config, pm) as client:
        refused = await client.post("/v1/models", json={"model_id": "forbidden-1"})
        accepted = await client.post("/v1/models", json={"model_id": "fine"})
        shield = await client.post("/v1/shields", json={"shield_id": "g"})
        listed = {m["id"] for m in (await client.get("/v1/models")).json()["data"]}
    assert refused.status_code == 400 and "reserved" in refused.json()["error"]["message"]
    assert accepted.status_code == 200
    assert shield.status_code == 400 and "params" in shield.json()["error"]["message"]
    assert "forbidden-1" not in listed and "fine" in listed


async def test_startup_and_shutdown_hooks_run_once_each(tmp_path):
    calls = []

    async def startup(stack):
        calls.append(("startup", sorted(a.value for a in stack.apis)))

    def shutdown(stack):
        calls.append(("shutdown", None))

    pm = PluginManager(extra_plugins=[stack_test_plugin, plugin(startup=startup, shutdown=shutdown)])
    async with stack_client(make_run_config({"inference": echo_providers("e")}, tmp_path), pm) as client:
        assert calls == [("startup", ["inference"])]
        assert (await client.get("/v1/health")).status_code == 200
    assert calls == [("startup", ["inference"]), ("shutdown", None)]


async def test_register_hooks_contribute_default_resources_for_their_provider_type(tmp_path):
    def register_shields(provider_type, provider_id, config):
        if provider_type == "inline::recorder":
            from llama_stack_core.apis.resources import RegisterShieldRequest

            return [RegisterShieldRequest(shield_id=f"{provider_id}-default", params={"x": 1})]

    pm = PluginManager(extra_plugins=[stack_test_plugin, plugin(register_shields=register_shields)])
    config = make_run_config(
        {
            "inference": echo_providers("e"),
            "safety": [{"provider_id": "s1", "provider_type": "inline::recorder", "config": {}}],
        },
        tmp_path,
    )
    async with stack_client(config, pm) as client:
        shields = (await client.get("/v1/shields")).json()["data"]
    assert [(s["identifier"], s["origin"], s["provider_id"]) for s in shields] == [
        ("s1-default", "plugin_default", "s1")
    ]


def test_misspelled_hook_fails_loudly():
    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError, match="register_inferance_providers"):
        PluginManager(autoload=False, extra_plugins=[plugin(register_inferance_providers=lambda: [])])


def _spec(provider_type: str, **extra) -> ProviderSpec:
    return ProviderSpec(
        api=Api.inference,
        provider_type=provider_type,
        config_class=BaseModel,
        factory="stack_test_plugin:create_echo",
        **extra,
    )


def test_two_plugins_declaring_one_provider_type_is_an_error():
    pm = PluginManager(
        autoload=False,
        extra_plugins=[stack_test_plugin, plugin(register_inference_providers=lambda: [_spec("inline::echo")])],
    )
    with pytest.raises(ConfigError, match="inline::echo.*declared by both"):
        _ = pm.provider_specs


def test_a_spec_for_the_wrong_api_is_an_error():
    wrong = ProviderSpec(api=Api.safety, provider_type="inline::x", config_class=BaseModel, factory="a:b")
    pm = PluginManager(autoload=False, extra_plugins=[plugin(register_inference_providers=lambda: [wrong])])
    with pytest.raises(ConfigError, match="register_inference_providers must return"):
        _ = pm.provider_specs


async def test_incompatible_core_api_version_is_refused_at_start(tmp_path):
    pm = PluginManager(
        autoload=False,
        extra_plugins=[
            plugin(register_inference_providers=lambda: [_spec("inline::future", core_api_version=">=2,<3")])
        ],
    )
    config = make_run_config({"inference": [{"provider_id": "f", "provider_type": "inline::future"}]}, tmp_path)
    with pytest.raises(
        ConfigError, match=r"inline::future built for provider API version >=2,<3.*implements version 1.0"
    ):
        async with stack_client(config, pm):
            pass


async def test_missing_api_dependency_and_bad_provider_config_are_clear_errors(tmp_path):
    pm = PluginManager(autoload=False, extra_plugins=[stack_test_plugin])
    needs_deps = make_run_config({"eval": [{"provider_id": "ev", "provider_type": "inline::recorder"}]}, tmp_path)
    with pytest.raises(ConfigError, match="needs the datasetio, scoring API"):
        async with stack_client(needs_deps, pm):
            pass
    bad_config = make_run_config(
        {
            "inference": [
                {"provider_id": "e", "provider_type": "inline::echo", "config": {"prefix": ["not", "a", "string"]}}
            ]
        },
        tmp_path,
    )
    with pytest.raises(ConfigError, match=r"'e' config is invalid:\n  prefix"):
        async with stack_client(bad_config, pm):
            pass


def test_env_switches(monkeypatch):
    monkeypatch.setenv("LLAMA_STACK_PLUGINS", "stack_test_plugin")
    monkeypatch.setenv("LLAMA_STACK_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = PluginManager()
    assert pm.provider_spec(Api.inference, "inline::echo") is not None
    assert "starter" not in pm.distros()  # entry points were not loaded
    monkeypatch.delenv("LLAMA_STACK_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("LLAMA_STACK_BLOCK_PLUGINS", "starter")
    assert "starter" not in PluginManager().distros()
    monkeypatch.delenv("LLAMA_STACK_BLOCK_PLUGINS")
    assert "starter" in PluginManager().distros()
    monkeypatch.setenv("LLAMA_STACK_PLUGINS", "no_such_module_xyz")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        PluginManager()


@pytest.fixture
def broken_plugin_installed(tmp_path, monkeypatch):
    """A real installed distribution (a .dist-info on sys.path) whose llama_stack entry point cannot import."""
    dist_info = tmp_path / "broken_stack_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-stack-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[llama_stack]\nbroken = no_such_module_for_stack_tests\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_broken_plugin_is_skipped_with_a_warning(broken_plugin_installed):
    pm = PluginManager(extra_plugins=[stack_test_plugin])
    assert "no_such_module_for_stack_tests" in pm.failed["broken"]
    assert "broken-stack-plugin" in pm.failed["broken"]
    assert pm.provider_spec(Api.inference, "inline::echo") is not None  # everything else still loads


async def test_a_missing_provider_type_names_plugins_that_failed_to_load(tmp_path, broken_plugin_installed):
    config = make_run_config({"inference": [{"provider_id": "x", "provider_type": "remote::from-broken"}]}, tmp_path)
    with pytest.raises(ConfigError, match="plugin broken failed to load"):
        async with stack_client(config, PluginManager()):
            pass
