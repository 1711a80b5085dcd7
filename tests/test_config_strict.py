"""No silent open doors: an unknown key anywhere in a run config stops `stack serve` / `stack config validate` with
one line naming it; upstream's no-op keys are accepted with a warning; auth we cannot provide never starts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from stack_test_plugin import echo_providers

from llama_stack_core.auth.keys import hash_key
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import ConfigError
from llama_stack_core.testing.harness import make_run_config


def base(tmp_path, **extra):
    return make_run_config({"inference": echo_providers("e")}, tmp_path, **extra)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"server": {"quota": {"anonymous_max_requests": 10, "burst": 5}}}, "server.quota.burst"),
        ({"server": {"rate_limit": {"rpm": 10}}}, "server.rate_limit"),
        ({"server": {"auth": {"api_keys": [], "route_policy": []}}}, "server.auth.route_policy"),
        ({"telemetry": {"enabeld": False}}, "telemetry.enabeld"),
        ({"inference_store": {"flush_every": 1}}, "inference_store.flush_every"),
        ({"vector_stores": {"default_provider_id": "x"}}, "vector_stores"),
        (
            {"metadata_store": {"type": "sqlite", "db_path": "/tmp/r.db", "ssl_mode": "require"}},
            "metadata_store.ssl_mode",
        ),
    ],
)
def test_an_unknown_key_anywhere_is_one_line_naming_its_path(tmp_path, change, path):
    with pytest.raises(ConfigError) as failed:
        parse_run_config(base(tmp_path, **change), where="run.yaml")
    assert str(failed.value) == f"run.yaml: unknown key {path} (not a setting this server implements)"


def test_unknown_keys_in_storage_and_provider_entries(tmp_path):
    config = base(tmp_path)
    config["storage"]["backends"]["kv_default"]["sslmode"] = "require"
    config["storage"]["stores"]["metadata"]["tablename"] = "x"
    config["providers"]["inference"][0]["configg"] = {}
    with pytest.raises(ConfigError) as failed:
        parse_run_config(config, where="run.yaml")
    message = str(failed.value)
    assert "\n" not in message
    for path in (
        "storage.backends.kv_default.sslmode",
        "storage.stores.metadata.tablename",
        "providers.inference[0].configg",
    ):
        assert path in message


def test_upstream_no_op_keys_are_accepted_and_listed(tmp_path):
    config = base(
        tmp_path, container_image="img", logging={"category_levels": {"core": "debug"}}, external_apis_dir=None
    )
    config["storage"]["stores"]["metadata"]["num_writers"] = 4
    parsed = parse_run_config(config)
    assert parsed.ignored_keys() == ["container_image", "logging", "storage.stores.metadata.num_writers"]


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"provider_config": {"type": "github_token"}}, "'github_token' is not implemented"),
        ({"provider_config": {"type": "kubernetes", "api_server_url": "https://k"}}, "'kubernetes' is not implemented"),
        ({"provider_config": {"type": "custom", "endpoint": "http://x"}}, "'custom' is not implemented"),
        ({"provider_config": {"type": "oauth2_token"}}, "needs jwks, shared_secret or introspection"),
        ({"provider_config": {"type": "oauth2_token", "shared_secret": "short"}}, "at least 32"),
        ({}, "needs provider_config or api_keys"),
        ({"api_keys": [{"name": "a", "key_hash": "plain-text-key"}]}, "key_hash"),
        (
            {
                "api_keys": [{"name": "a", "key_hash": hash_key("k" * 30)}],
                "access_policy": [{"permit": {"actions": ["read"]}, "when": "user is boss"}],
            },
            "unknown condition 'user is boss'",
        ),
    ],
)
def test_auth_this_server_cannot_provide_never_starts(tmp_path, auth, message):
    with pytest.raises(ConfigError, match=message):
        parse_run_config(base(tmp_path, server={"auth": auth}))


def stack(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **env},
        timeout=60,
    )


def test_validate_and_serve_exit_2_with_one_line_and_no_op_keys_warn(tmp_path, plugin_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(base(tmp_path, server={"port": 0, "quota": {"period": "day", "burst": 5}})))
    for command in (["config", "validate", str(bad)], ["serve", str(bad), "--port", "0"]):
        result = stack(*command, env=plugin_env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: {bad}: unknown key server.quota.burst (not a setting this server implements)"
        ]
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(base(tmp_path, container_image="img")))
    result = stack("config", "validate", str(good), env=plugin_env)
    assert result.returncode == 0 and "OK" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "warning: run config key 'container_image' is accepted for upstream compatibility and ignored: "
        "containers are built outside the stack"
    ]


def test_hash_key_prints_the_stored_form_and_refuses_short_keys(plugin_env):
    key = "lsk-" + "x" * 40
    result = stack("auth", "hash-key", env=plugin_env, stdin=key + "\n")
    assert result.returncode == 0 and result.stdout.strip() == hash_key(key)
    assert key not in result.stdout + result.stderr
    short = stack("auth", "hash-key", env=plugin_env, stdin="abc\n")
    assert short.returncode == 2 and "at least 24" in short.stderr
    generated = stack("auth", "hash-key", "--generate", env=plugin_env)
    lines = dict(line.split(":", 1) for line in generated.stdout.splitlines())
    assert hash_key(lines["key"].strip()) == lines["key_hash"].strip()
