"""Run config: env substitution, upstream-shaped configs, and clear errors."""

from __future__ import annotations

import pytest

from llama_stack_core.config.env import substitute_env
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import ConfigError


def test_env_substitution_forms():
    env = {"SET": "value", "EMPTY": ""}
    assert substitute_env("${env.SET}", env) == "value"
    assert substitute_env("${env.UNSET:=fallback}", env) == "fallback"
    assert substitute_env("${env.EMPTY:=fallback}", env) == "fallback"
    assert substitute_env("${env.SET:=fallback}", env) == "value"
    assert substitute_env("${env.SET:+on}", env) == "on"
    assert substitute_env("${env.UNSET:+on}", env) is None
    assert substitute_env("http://${env.SET}:${env.PORT:=80}/v1", env) == "http://value:80/v1"
    assert substitute_env({"a": ["${env.SET}", 3]}, env) == {"a": ["value", 3]}


def test_missing_required_env_names_the_variable_and_the_place():
    with pytest.raises(ConfigError, match=r"providers\.inference\[0\]\.config\.api_key.*MY_KEY"):
        substitute_env({"providers": {"inference": [{"config": {"api_key": "${env.MY_KEY}"}}]}}, {}, where="config")


UPSTREAM_STYLE = {
    "version": 2,
    "image_name": "upstream-style",
    "apis": ["inference", "safety"],
    "providers": {
        "inference": [
            {
                "provider_id": "${env.ENABLE_A:+a}",
                "provider_type": "remote::a",
                "config": {"url": "${env.A_URL:=http://x}"},
            },
            {"provider_id": "b", "provider_type": "inline::b", "config": {}},
        ],
        "safety": [{"provider_id": "__disabled__", "provider_type": "inline::g", "config": {}}],
    },
    "metadata_store": {"type": "sqlite", "db_path": "/tmp/x/registry.db"},
    "models": [{"model_id": "m", "provider_id": "b"}],
    "registered_resources": {"shields": [{"shield_id": "s"}]},
    "telemetry": {"enabled": False},
    "external_providers_dir": "~/.llama/providers.d",
    "server": {"port": "${env.LLAMA_STACK_PORT:=8321}"},
}


def test_upstream_shaped_config_parses(monkeypatch):
    monkeypatch.delenv("ENABLE_A", raising=False)
    config = parse_run_config(UPSTREAM_STYLE)
    assert config.distro_name == "upstream-style"
    assert config.server.port == 8321
    assert list(config.enabled_providers()) == ["inference"]
    assert [p.provider_id for p in config.enabled_providers()["inference"]] == ["b"]
    assert config.storage.backends[config.storage.stores["metadata"].backend].db_path == "/tmp/x/registry.db"
    assert [(t, r.requested_id()) for t, r in config.resource_requests()] == [("model", "m"), ("shield", "s")]
    assert config.ignored_keys() == ["external_providers_dir"]
    assert config.telemetry.enabled is False
    monkeypatch.setenv("ENABLE_A", "1")
    assert [p.provider_id for p in parse_run_config(UPSTREAM_STYLE).enabled_providers()["inference"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"providers": {"inference": [{"provider_id": "x", "provider_type": "nonsense"}]}}, "provider_type"),
        (
            {
                "providers": {
                    "inference": [
                        {"provider_id": "x", "provider_type": "inline::a"},
                        {"provider_id": "x", "provider_type": "inline::b"},
                    ]
                }
            },
            "unique",
        ),
        ({"server": {"port": 99999}}, "server.port"),
        ({"storage": {"backends": {}, "stores": {"metadata": {"backend": "missing"}}}}, "unknown backend"),
        ({"storage": {"backends": {"k": {"type": "kv_sqlite"}}}}, "db_path"),
    ],
)
def test_invalid_configs_fail_with_the_field_named(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_run_config({"version": 2, **change})


def test_bad_resource_entries_are_reported_with_their_index():
    config = parse_run_config({"models": [{"model_id": "ok"}, {"provider_id": "x"}]})
    with pytest.raises(ValueError, match=r"models\[1\]"):
        config.resource_requests()


@pytest.mark.anyio
async def test_store_config_resolves_named_backends(tmp_path):
    from pydantic import ValidationError

    from llama_stack_core.storage import StoreConfig

    config = parse_run_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_sqlite", "db_path": str(tmp_path / "kv.db")},
                    "other": {"type": "kv_sqlite", "db_path": str(tmp_path / "other.db")},
                },
                "stores": {"metadata": {"backend": "kv_default", "namespace": "registry"}},
            }
        }
    )
    context = config.validation_context()
    named = StoreConfig.model_validate({"backend": "other", "namespace": "files"}, context=context)
    default = StoreConfig.model_validate({"backend": "default", "namespace": "files"}, context=context)
    assert named.backend.db_path.endswith("other.db") and default.backend.db_path.endswith("kv.db")
    store = await named.open()
    try:
        await store.set("k", "v")
        assert await store.get("k") == "v"
    finally:
        await store.close()
    with pytest.raises(ValidationError, match="unknown storage backend 'nope'.*kv_default, other"):
        StoreConfig.model_validate({"backend": "nope", "namespace": "x"}, context=context)
