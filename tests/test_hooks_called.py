"""Every plugin hook, called by the real stack: each test installs a plugin implementing one hook and observes its
effect through the HTTP API, the CLI or a served stack. ``test_every_hook_has_a_test_here`` fails when a hookspec
has no test in this module (datasette keeps the same check in its own suite)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import stack_test_plugin
from pydantic import BaseModel
from stack_test_plugin import RecorderConfig, echo_providers

from llama_stack_core import hookspecs
from llama_stack_core.apis.resources import RESOURCE_KINDS
from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.providers import ProviderSpec
from llama_stack_core.server.core_routes import RESOURCE_PATHS
from llama_stack_core.testing.harness import hook_plugin, make_run_config, served_stack, stack_client

pytestmark = pytest.mark.anyio

RECORDER = {"provider_type": "inline::recorder", "config": {}}
OWNER = "owner"  # the provider id of the provider that owns the resource under test


class ResourceSetup(BaseModel):
    """A stack in which one resource type can be registered: its owner provider, what a registration needs, a body."""

    providers: dict[str, list[dict[str, Any]]]
    resources: dict[str, list[dict[str, Any]]] = {}
    body: dict[str, Any]


RESOURCE_SETUPS: dict[str, ResourceSetup] = {
    "model": ResourceSetup(
        providers={"inference": [{"provider_id": OWNER, "provider_type": "inline::echo", "config": {}}]},
        body={"model_id": "m"},
    ),
    "shield": ResourceSetup(providers={"safety": [{"provider_id": OWNER, **RECORDER}]}, body={"shield_id": "s"}),
    "tool_group": ResourceSetup(
        providers={"tool_runtime": [{"provider_id": OWNER, **RECORDER}]},
        body={"toolgroup_id": "t", "mcp_endpoint": {"uri": "http://127.0.0.1:1/mcp"}},
    ),
    "dataset": ResourceSetup(
        providers={"datasetio": [{"provider_id": OWNER, **RECORDER}]},
        body={"dataset_id": "d", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": [{"q": 1}]}},
    ),
    "vector_db": ResourceSetup(
        providers={"vector_io": [{"provider_id": OWNER, **RECORDER}], "inference": echo_providers("emb")},
        resources={"models": [{"model_id": "emb", "model_type": "embedding", "metadata": {"embedding_dimension": 8}}]},
        body={"vector_db_id": "v", "embedding_model": "emb"},
    ),
    "scoring_function": ResourceSetup(
        providers={"scoring": [{"provider_id": OWNER, **RECORDER}]},
        body={"scoring_fn_id": "f", "return_type": {"type": "number"}},
    ),
    "benchmark": ResourceSetup(
        providers={
            "eval": [{"provider_id": OWNER, **RECORDER}],
            "datasetio": [{"provider_id": "d", **RECORDER}],
            "scoring": [{"provider_id": "s", **RECORDER}],
        },
        resources={
            "datasets": [
                {"dataset_id": "qa", "purpose": "eval/question-answer", "source": {"type": "uri", "uri": "x"}}
            ],
            "scoring_fns": [{"scoring_fn_id": "fn", "return_type": {"type": "number"}}],
        },
        body={"benchmark_id": "b", "dataset_id": "qa", "scoring_functions": ["fn"]},
    ),
}
#: The hook contributing default resources of each type, and the one validating a registration.
REGISTER_HOOKS = {kind.type: f"register_{kind.plural}" for kind in RESOURCE_KINDS.values()}
VALIDATE_HOOKS = {kind.type: f"validate_{kind.type}" for kind in RESOURCE_KINDS.values()}
PROVIDER_HOOKS = {api: f"register_{api.value}_providers" for api in Api}


def hookspec_names() -> set[str]:
    return {name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, "llama_stack_spec")}


def resource_config(tmp_path: Path, resource_type: str) -> dict[str, Any]:
    setup = RESOURCE_SETUPS[resource_type]
    return make_run_config(setup.providers, tmp_path, **setup.resources)


async def identifiers(client: httpx.AsyncClient, resource_type: str) -> dict[str, dict[str, Any]]:
    response = await client.get(RESOURCE_PATHS[resource_type][0])
    assert response.status_code == 200, response.text
    return {item["identifier"]: item for item in response.json()["data"]}


# -- one hook per API: the provider it declares can be configured and is served --------------------------------


@pytest.mark.parametrize("api", list(PROVIDER_HOOKS), ids=list(PROVIDER_HOOKS.values()))
async def test_register_api_providers(api: Api, tmp_path: Path) -> None:
    spec = ProviderSpec(
        api=api,
        provider_type="inline::hooked",
        config_class=RecorderConfig,
        factory="stack_test_plugin:create_recorder",
        description="Declared by the hook under test.",
        operations=(),  # the recorder holds resources and serves no operation
    )
    plugin = hook_plugin(**{PROVIDER_HOOKS[api]: lambda: [spec]})
    pm = PluginManager(autoload=False, extra_plugins=[plugin])
    config = make_run_config(
        {api.value: [{"provider_id": "hooked", "provider_type": "inline::hooked", "config": {}}]}, tmp_path
    )
    async with stack_client(config, pm) as client:
        providers = (await client.get("/v1/providers")).json()["data"]
    assert [(p["api"], p["provider_id"], p["provider_type"]) for p in providers] == [
        (api.value, "hooked", "inline::hooked")
    ]


# -- resources: defaults contributed for a configured provider, and validation of registrations ------------------


@pytest.mark.parametrize("resource_type", list(REGISTER_HOOKS), ids=list(REGISTER_HOOKS.values()))
async def test_register_resources(resource_type: str, tmp_path: Path) -> None:
    kind = RESOURCE_KINDS[resource_type]
    seen: list[tuple[str, str, type]] = []

    def contribute(provider_type: str, provider_id: str, config: BaseModel) -> list[Any] | None:
        seen.append((provider_type, provider_id, type(config)))
        if provider_id != OWNER:
            return None
        body = {**RESOURCE_SETUPS[resource_type].body, kind.register_request.id_field: "from-hook"}
        return [kind.register_request(**body)]

    pm = PluginManager(extra_plugins=[stack_test_plugin, hook_plugin(**{REGISTER_HOOKS[resource_type]: contribute})])
    async with stack_client(resource_config(tmp_path, resource_type), pm) as client:
        listed = await identifiers(client, resource_type)
    owner_type = RESOURCE_SETUPS[resource_type].providers[kind.api.value][0]["provider_type"]
    assert (owner_type, OWNER) in {(t, i) for t, i, _ in seen}
    assert all(issubclass(config_class, BaseModel) for _, _, config_class in seen)
    assert listed["from-hook"]["provider_id"] == OWNER and listed["from-hook"]["origin"] == "plugin_default"


@pytest.mark.parametrize("resource_type", list(VALIDATE_HOOKS), ids=list(VALIDATE_HOOKS.values()))
async def test_validate_resource(resource_type: str, tmp_path: Path) -> None:
    kind = RESOURCE_KINDS[resource_type]
    checked: list[str] = []

    def check(resource: Any) -> None:
        assert isinstance(resource, kind.model)
        checked.append(resource.identifier)
        if resource.identifier.startswith("refused"):
            raise ValueError(f"{resource.identifier} is a reserved name")

    # pluggy passes hook arguments by name: each implementation takes the hookspec's argument
    validators = {
        "model": lambda model: check(model),
        "shield": lambda shield: check(shield),
        "tool_group": lambda tool_group: check(tool_group),
        "dataset": lambda dataset: check(dataset),
        "vector_db": lambda vector_db: check(vector_db),
        "scoring_function": lambda scoring_function: check(scoring_function),
        "benchmark": lambda benchmark: check(benchmark),
    }
    hook = VALIDATE_HOOKS[resource_type]
    pm = PluginManager(extra_plugins=[stack_test_plugin, hook_plugin(**{hook: validators[resource_type]})])
    body = {**RESOURCE_SETUPS[resource_type].body, "provider_id": OWNER}
    id_field = kind.register_request.id_field
    collection = RESOURCE_PATHS[resource_type][0]
    async with stack_client(resource_config(tmp_path, resource_type), pm) as client:
        refused = await client.post(collection, json={**body, id_field: "refused-1"})
        accepted = await client.post(collection, json={**body, id_field: "accepted-1"})
        listed = await identifiers(client, resource_type)
    assert 400 <= refused.status_code < 500, refused.text
    assert "refused-1 is a reserved name" in refused.json()["error"]["message"]
    assert accepted.status_code == 200, accepted.text
    assert "accepted-1" in listed and "refused-1" not in listed
    assert {"refused-1", "accepted-1"} <= set(checked)


# -- distros and lifecycle ---------------------------------------------------------------------------------------


def write_plugin(directory: Path, name: str, source: str) -> dict[str, str]:
    """Write a plugin module ``name`` into ``directory``; return the environment that makes a subprocess load it."""
    (directory / name).with_suffix(".py").write_text(textwrap.dedent(source))
    path = os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "LLAMA_STACK_PLUGINS": name}


def test_register_distros(tmp_path: Path) -> None:
    run_config = tmp_path / "hooked.yaml"
    run_config.write_text("version: 2\ndistro_name: hooked\nproviders: {}\n")
    env = write_plugin(
        tmp_path,
        "hooked_distro_plugin",
        f"""
        from pathlib import Path
        from llama_stack_core.distros import DistroSpec
        from llama_stack_core.hookspecs import hookimpl

        @hookimpl
        def register_distros():
            return [DistroSpec(name="hooked", description="from the hook", run_config=Path({str(run_config)!r}))]
        """,
    )
    done = subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", "list-distros"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    assert "from the hook" in rows["hooked"]


def test_startup_and_shutdown(tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    env = write_plugin(
        tmp_path,
        "lifecycle_plugin",
        f"""
        from pathlib import Path
        from llama_stack_core.hookspecs import hookimpl

        CALLS = Path({str(calls)!r})

        def record(line):
            with CALLS.open("a") as calls:
                calls.write(line + "\\n")

        @hookimpl
        async def startup(stack):
            record("startup " + ",".join(sorted(api.value for api in stack.apis)))

        @hookimpl
        def shutdown(stack):
            record("shutdown")
        """,
    )
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(Path(stack_test_plugin.__file__).parent)])
    env["LLAMA_STACK_PLUGINS"] += ",stack_test_plugin"
    config = make_run_config({"inference": echo_providers("e")}, tmp_path)
    with served_stack(config, tmp_path, env=env) as base_url:
        assert calls.read_text().splitlines() == ["startup inference"]
        assert httpx.get(f"{base_url}/v1/models", timeout=10).status_code == 200
    assert calls.read_text().splitlines() == ["startup inference", "shutdown"]


# -- the self-check ----------------------------------------------------------------------------------------------


def test_every_hook_has_a_test_here() -> None:
    tests = [f"_{name}_" for name in globals() if name.startswith("test_")]
    parametrized = {*PROVIDER_HOOKS.values(), *REGISTER_HOOKS.values(), *VALIDATE_HOOKS.values()}
    missing = sorted(hook for hook in hookspec_names() - parametrized if not any(f"_{hook}_" in test for test in tests))
    assert not missing, f"hooks with no test in tests/test_hooks_called.py: {missing}"
    assert hookspec_names() >= {*PROVIDER_HOOKS.values(), *REGISTER_HOOKS.values(), *VALIDATE_HOOKS.values()}
