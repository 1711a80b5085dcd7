"""Owners and access rules with ``server.auth`` on: what alice makes (files, vector stores, responses, conversations,
stored chat completions, agents, registered models) bob cannot see (404, absent from lists) or delete (404); shared
run-config models serve both; a custom ``access_policy`` is applied; with auth off nothing is checked or recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai
import pytest
from stack_test_plugin import echo_providers

from llama_stack_core.auth.keys import hash_key
from llama_stack_core.auth.policy import AccessPolicy, AccessRule
from llama_stack_core.errors import ConfigError
from llama_stack_core.owners import Action, Owner
from llama_stack_core.request_context import principal
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.waiting import eventually

pytestmark = pytest.mark.anyio

KEYS = {
    "alice": "lsk-alice-0123456789abcdefghijklmnop",
    "bob": "lsk-bob-0123456789abcdefghijklmnopqrs",
    "carol": "lsk-carol-0123456789abcdefghijklmnopq",
}
EMBEDDING_MODEL = "echo-default-embedding"

ADMIN_POLICY = [
    {"forbid": {"actions": ["delete"], "resource": "model::*"}, "description": "models stay"},
    {"permit": {"actions": ["read"]}, "when": "user with admin in roles"},
    {"permit": {"actions": ["create"]}},
    {"permit": {"actions": ["read", "update", "delete"]}, "when": "user is owner"},
    {"permit": {"actions": ["read"]}, "when": "resource is unowned"},
]


def run_config(tmp_path, auth: bool = True, policy: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    server: dict[str, Any] = {}
    if auth:
        keys = [{"name": "alice", "key_hash": hash_key(KEYS["alice"]), "teams": ["blue"]}]
        keys.append({"name": "bob", "key_hash": hash_key(KEYS["bob"])})
        keys.append({"name": "carol", "key_hash": hash_key(KEYS["carol"]), "roles": ["admin"]})
        server["auth"] = {"api_keys": keys, "access_policy": policy or []}
    providers = {
        "inference": echo_providers("echo"),
        "files": [{"provider_id": "fs", "provider_type": "inline::localfs", "config": {"storage_dir": str(tmp_path)}}],
        "vector_io": [
            {
                "provider_id": "vec",
                "provider_type": "inline::sqlite-vec",
                "config": {
                    "db_path": str(tmp_path / "vectors.db"),
                    "persistence": {"backend": "default", "namespace": "vector_io"},
                },
            }
        ],
        "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
        "conversations": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
        "agents": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "eval": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    models = [{"model_id": "shared-model", "provider_id": "echo", "provider_model_id": "llm"}]
    # a shared benchmark (from the run config): anyone may run it, and each sees only their own jobs on it
    datasets = [
        {"dataset_id": "shared-data", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}}
    ]
    benchmarks = [
        {"benchmark_id": "shared-bench", "dataset_id": "shared-data", "scoring_functions": ["basic::equality"]}
    ]
    return make_run_config(providers, tmp_path, models=models, server=server, datasets=datasets, benchmarks=benchmarks)


ROWS = [{"input_query": "hi", "expected_answer": "echo:llm: hi"}]


class User:
    """One caller: the ``openai`` SDK and plain HTTP, both with the user's key (no key with auth off)."""

    def __init__(self, http: httpx.AsyncClient, name: str | None) -> None:
        key = KEYS[name] if name else "unused"
        self.headers = {"Authorization": f"Bearer {key}"} if name else {}
        self.sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key=key, http_client=http, max_retries=0)
        self._http = http
        self.stack = http.app.state.stack  # type: ignore[attr-defined]

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self._http.request(method, path, headers=headers, **kwargs)


@asynccontextmanager
async def users(config: dict[str, Any], pm, *names: str | None) -> AsyncIterator[list[User]]:
    async with stack_client(config, pm) as http:
        yield [User(http, name) for name in names]


async def make_everything(alice: User) -> dict[str, str]:
    """One of each kind of object, made by ``alice``; their ids."""
    file = await alice.sdk.files.create(file=("notes.txt", b"alice's notes"), purpose="assistants")
    store = await alice.sdk.vector_stores.create(name="alice", extra_body={"embedding_model": EMBEDDING_MODEL})
    chat = await alice.sdk.chat.completions.create(model="shared-model", messages=[{"role": "user", "content": "hi"}])
    conversation = await alice.sdk.conversations.create(items=[{"role": "user", "content": "hello"}])
    response = await alice.sdk.responses.create(model="shared-model", input="hi there")
    model = await alice.request("POST", "/v1/models", json={"model_id": "alice-model", "provider_model_id": "llm"})
    assert model.status_code == 200, model.text
    agent = await alice.request(
        "POST", "/v1/agents", json={"agent_config": {"model": "shared-model", "instructions": "x"}}
    )
    assert agent.status_code == 200, agent.text
    dataset = {"dataset_id": "alice-data", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}}
    assert (await alice.request("POST", "/v1beta/datasets", json=dataset)).status_code == 200
    benchmark = {"benchmark_id": "alice-bench", "dataset_id": "alice-data", "scoring_functions": ["basic::equality"]}
    assert (await alice.request("POST", "/v1alpha/eval/benchmarks", json=benchmark)).status_code == 200
    candidate = {"benchmark_config": {"eval_candidate": {"type": "model", "model": "shared-model"}}}
    job = (await alice.request("POST", "/v1alpha/eval/benchmarks/shared-bench/jobs", json=candidate)).json()

    async def job_done() -> bool:
        status = (await alice.request("GET", f"/v1alpha/eval/benchmarks/shared-bench/jobs/{job['job_id']}")).json()
        return status["status"] == "completed"

    await eventually(job_done, timeout=20, what="alice's eval job")
    return {
        "job": job["job_id"],
        "benchmark": "alice-bench",
        "dataset": "alice-data",
        "file": file.id,
        "store": store.id,
        "chat": chat.id,
        "conversation": conversation.id,
        "response": response.id,
        "model": "alice-model",
        "agent": agent.json()["agent_id"],
    }


#: kind -> (its GET path, its list path and where the ids are in the list, its DELETE path or None)
def paths(ids: dict[str, str]) -> dict[str, tuple[str, str | None, str | None]]:
    job = f"/v1alpha/eval/benchmarks/shared-bench/jobs/{ids['job']}"
    return {
        "eval job": (job, None, None),
        "eval job result": (f"{job}/result", None, None),
        "benchmark": (
            f"/v1alpha/eval/benchmarks/{ids['benchmark']}",
            "/v1alpha/eval/benchmarks",
            f"/v1alpha/eval/benchmarks/{ids['benchmark']}",
        ),
        "dataset": (f"/v1beta/datasets/{ids['dataset']}", "/v1beta/datasets", f"/v1beta/datasets/{ids['dataset']}"),
        "dataset rows": (f"/v1beta/datasetio/iterrows/{ids['dataset']}", None, None),
        "file": (f"/v1/files/{ids['file']}", "/v1/files", f"/v1/files/{ids['file']}"),
        "file content": (f"/v1/files/{ids['file']}/content", None, None),
        "store": (f"/v1/vector_stores/{ids['store']}", "/v1/vector_stores", f"/v1/vector_stores/{ids['store']}"),
        "chat": (f"/v1/chat/completions/{ids['chat']}", "/v1/chat/completions", None),
        "conversation": (
            f"/v1/conversations/{ids['conversation']}",
            None,
            f"/v1/conversations/{ids['conversation']}",
        ),
        "conversation items": (f"/v1/conversations/{ids['conversation']}/items", None, None),
        "response": (f"/v1/responses/{ids['response']}", "/v1/responses", f"/v1/responses/{ids['response']}"),
        "response input": (f"/v1/responses/{ids['response']}/input_items", None, None),
        "model": ("/v1/models/alice-model", "/v1/models", "/v1/models/alice-model"),
        "agent": (f"/v1/agents/{ids['agent']}", "/v1/agents", f"/v1/agents/{ids['agent']}"),
    }


def listed_ids(body: dict[str, Any]) -> set[str]:
    return {item.get("id") or item.get("agent_id") or item.get("identifier") for item in body["data"]}


async def test_what_alice_makes_is_invisible_to_bob(tmp_path, pm):
    async with users(run_config(tmp_path), pm, "alice", "bob") as (alice, bob):
        ids = await make_everything(alice)
        all_ids = set(ids.values())
        for kind, (item, collection, delete) in paths(ids).items():
            assert (await alice.request("GET", item)).status_code == 200, kind
            answer = await bob.request("GET", item)
            assert answer.status_code == 404, (kind, answer.text)
            assert "not found" in answer.json()["error"]["message"], kind
            if collection is not None:
                mine = listed_ids((await alice.request("GET", collection)).json())
                theirs = listed_ids((await bob.request("GET", collection)).json())
                assert mine & all_ids, kind
                assert not theirs & all_ids, (kind, theirs)
            if delete is not None:
                refused = await bob.request("DELETE", delete)
                assert refused.status_code == 404, (kind, refused.text)
        cancel = await bob.request("DELETE", f"/v1alpha/eval/benchmarks/shared-bench/jobs/{ids['job']}")
        assert cancel.status_code == 404, cancel.text  # bob may run the shared benchmark, not touch alice's job
        # through the SDK: the typed errors a client sees
        with pytest.raises(openai.NotFoundError):
            await bob.sdk.files.retrieve(ids["file"])
        with pytest.raises(openai.NotFoundError):
            await bob.sdk.vector_stores.search(ids["store"], query="notes")
        with pytest.raises(openai.NotFoundError):
            await bob.sdk.responses.create(model="shared-model", input="go on", previous_response_id=ids["response"])
        with pytest.raises(openai.NotFoundError):
            await bob.sdk.conversations.items.create(ids["conversation"], items=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.NotFoundError):
            await bob.sdk.chat.completions.create(model="alice-model", messages=[{"role": "user", "content": "x"}])
        bobs_file = await bob.sdk.files.create(file=("b.txt", b"bob"), purpose="assistants")
        with pytest.raises(openai.NotFoundError):  # bob's file into alice's store: the store is not found
            await bob.sdk.vector_stores.files.create(ids["store"], file_id=bobs_file.id)
        alices_store = await alice.sdk.vector_stores.retrieve(ids["store"])
        with pytest.raises(openai.NotFoundError):  # alice's store cannot take a file alice may not read
            await alice.sdk.vector_stores.files.create(alices_store.id, file_id=bobs_file.id)
        # the shared (run config) model serves both, and neither may delete it (readable: 403)
        for user in (alice, bob):
            answer = await user.sdk.chat.completions.create(
                model="shared-model", messages=[{"role": "user", "content": "ping"}]
            )
            assert answer.choices[0].message.content
            models = listed_ids((await user.request("GET", "/v1/models")).json())
            assert "shared-model" in models
            refused = await user.request("DELETE", "/v1/models/shared-model")
            assert refused.status_code == 403, refused.text
        # everything is still there for alice, and she may delete it all
        assert (await alice.sdk.files.retrieve(ids["file"])).id == ids["file"]
        for kind, (_, _, delete) in paths(ids).items():
            if delete is not None:
                assert (await alice.request("DELETE", delete)).status_code in (200, 204), kind


async def test_owners_are_recorded_and_shown_on_resources(tmp_path, pm):
    async with users(run_config(tmp_path), pm, "alice") as (alice,):
        registered = await alice.request("POST", "/v1/models", json={"model_id": "mine", "provider_model_id": "llm"})
        shared = await alice.request("GET", "/v1/models/shared-model")
    assert registered.json()["owner"] == {"principal": "alice", "attributes": {"teams": ["blue"]}}
    assert shared.json()["owner"] is None


async def test_a_custom_policy_is_applied(tmp_path, pm):
    config = run_config(tmp_path, policy=ADMIN_POLICY)
    async with users(config, pm, "alice", "bob", "carol") as (alice, bob, carol):
        ids = await make_everything(alice)
        # carol (role admin) reads everything, but changes nothing of alice's
        for kind, (item, collection, _) in paths(ids).items():
            assert (await carol.request("GET", item)).status_code == 200, kind
            assert (await bob.request("GET", item)).status_code == 404, kind
            if collection is not None:
                assert listed_ids((await carol.request("GET", collection)).json()) & set(ids.values()), kind
        refused = await carol.request("DELETE", f"/v1/files/{ids['file']}")
        assert refused.status_code == 403, refused.text
        assert "'carol' may not delete file" in refused.json()["error"]["message"]
        assert (await carol.request("DELETE", f"/v1/responses/{ids['response']}")).status_code == 403
        # no one deletes a model, not even its owner
        assert (await alice.request("DELETE", "/v1/models/alice-model")).status_code == 403
        assert (await bob.request("DELETE", "/v1/models/alice-model")).status_code == 404
        assert (await alice.request("GET", "/v1/models/alice-model")).status_code == 200


async def test_with_auth_off_nothing_is_checked_or_recorded(tmp_path, pm):
    async with users(run_config(tmp_path, auth=False), pm, None, None) as (one, other):
        ids = await make_everything(one)
        for kind, (item, _, _) in paths(ids).items():
            assert (await other.request("GET", item)).status_code == 200, kind
        model = (await other.request("GET", "/v1/models/alice-model")).json()
        assert model["owner"] is None
        conversation = (await other.request("GET", f"/v1/conversations/{ids['conversation']}")).json()
        assert "owner" not in conversation
        assert (await other.request("DELETE", "/v1/models/alice-model")).status_code in (200, 204)


def test_policy_rules_are_checked_when_the_config_loads():
    for rule, message in [
        ({"permit": {"actions": ["read"]}, "when": "user is boss"}, "unknown condition"),
        ({"permit": {"actions": ["read"]}, "forbid": {"actions": ["read"]}}, "exactly one of permit or forbid"),
        ({"permit": {"actions": ["read"], "resource": "gadget::x"}}, "unknown kind 'gadget'"),
        ({"permit": {"actions": ["read"], "resource": "model"}}, "<kind>::<id>"),
        ({"permit": {"actions": ["fly"]}}, "actions"),
    ]:
        with pytest.raises(ValueError, match=message):
            AccessRule.model_validate(rule)
    assert issubclass(ConfigError, Exception)


def test_policy_conditions_and_resource_patterns():
    policy = AccessPolicy(
        [
            AccessRule.model_validate(r)
            for r in [
                {"forbid": {"actions": ["read"], "resource": "regex:model::secret-.*"}},
                {"permit": {"actions": ["read"], "resource": "vector_store::vs_*"}, "when": "user in owners teams"},
                {"permit": {"actions": ["update"], "principal": "dave"}},
                {"permit": {"actions": ["delete"]}, "unless": "user is not owner"},
            ]
        ]
    )
    blue = principal("ann", {"teams": ["blue"]}, "api_key")
    red = principal("dave", {"teams": ["red"]}, "api_key")
    owner = Owner(principal="ann", attributes={"teams": ["blue"]})
    assert policy.allows(Action.read, "vector_db", "vs_1", owner, blue)
    assert not policy.allows(Action.read, "vector_db", "vs_1", owner, red)
    assert policy.allows(Action.read, "vector_db", "vs_1", None, red)  # no owner values: upstream's rule matches
    assert not policy.allows(Action.read, "model", "secret-1", None, blue)
    assert policy.allows(Action.update, "file", "f", owner, red) and not policy.allows(
        Action.update, "file", "f", owner, blue
    )
    assert policy.allows(Action.delete, "file", "f", owner, blue) and not policy.allows(
        Action.delete, "file", "f", owner, red
    )


async def test_a_trace_is_its_callers(tmp_path, pm):
    config = run_config(tmp_path)
    config["providers"]["telemetry"] = [{"provider_id": "traces", "provider_type": "inline::trace-store", "config": {}}]
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with users(config, pm, "alice", "bob") as (alice, bob):
        chat = await alice.request(
            "POST",
            "/v1/chat/completions",
            json={"model": "shared-model", "messages": [{"role": "user", "content": "traced"}]},
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        assert chat.status_code == 200, chat.text
        await alice.stack.tracer.flush()
        answers = {}
        for name, user in (("alice", alice), ("bob", bob)):
            trace = await user.request("GET", f"/v1/telemetry/traces/{trace_id}")
            listed = await user.request("POST", "/v1/telemetry/traces", json={})
            spans = await user.request(
                "POST", "/v1/telemetry/spans", json={"attribute_filters": [], "attributes_to_return": []}
            )
            answers[name] = (trace, listed.json(), spans.json())
    trace, listed, spans = answers["alice"]
    assert trace.status_code == 200 and trace_id in {t["trace_id"] for t in listed["data"]}
    assert trace_id in {s["trace_id"] for s in spans["data"]}
    root = next(s for s in spans["data"] if s["trace_id"] == trace_id and s["name"].startswith("POST "))
    assert root["attributes"]["auth.principal"] == "alice"
    trace, listed, spans = answers["bob"]
    assert trace.status_code == 404
    assert trace_id not in {t["trace_id"] for t in listed["data"]}
    assert trace_id not in {s["trace_id"] for s in spans["data"]}
