"""Federation and the resource registry: routing by resource, qualified ids, start-up registration, references."""

from __future__ import annotations

import pytest
import stack_test_plugin
from stack_test_plugin import echo_providers, recorder_providers

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio


def chat(model: str, text: str = "hi") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def answer(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


async def test_each_resource_routes_to_its_own_provider(full_config, pm):
    async with stack_client(full_config, pm) as client:
        for model_id, provider in (("on-alpha", "alpha"), ("on-beta", "beta")):
            response = await client.post(
                "/v1/models",
                json={"model_id": model_id, "provider_id": provider, "provider_model_id": f"{provider}-llm"},
            )
            assert response.status_code == 200, response.text
        assert answer(await client.post("/v1/chat/completions", json=chat("on-alpha"))) == "alpha:alpha-llm: hi"
        assert answer(await client.post("/v1/chat/completions", json=chat("on-beta"))) == "beta:beta-llm: hi"


async def test_qualified_ids_reach_the_named_provider(full_config, pm):
    async with stack_client(full_config, pm) as client:
        await client.post("/v1/models", json={"model_id": "shared", "provider_id": "beta", "provider_model_id": "p1"})
        # a registered resource by provider_id/identifier and by provider_id/provider_resource_id
        assert answer(await client.post("/v1/chat/completions", json=chat("beta/shared"))) == "beta:p1: hi"
        assert answer(await client.post("/v1/chat/completions", json=chat("beta/p1"))) == "beta:p1: hi"
        # an unregistered model id passes straight to the named provider
        assert answer(await client.post("/v1/chat/completions", json=chat("alpha/raw-7b"))) == "alpha:raw-7b: hi"
        unknown_provider = await client.post("/v1/chat/completions", json=chat("gamma/raw"))
        unqualified = await client.post("/v1/chat/completions", json=chat("raw-7b"))
    assert unknown_provider.status_code == 404
    assert unqualified.status_code == 404
    assert "GET /v1/models" in unqualified.json()["error"]["message"]


async def test_model_type_must_match_the_endpoint(full_config, pm):
    async with stack_client(full_config, pm) as client:
        emb = await client.post("/v1/embeddings", json={"model": "alpha-default-embedding", "input": ["a", "b"]})
        chat_on_embedding = await client.post("/v1/chat/completions", json=chat("alpha-default-embedding"))
        await client.post("/v1/models", json={"model_id": "llm", "provider_id": "alpha"})
        embed_on_llm = await client.post("/v1/embeddings", json={"model": "llm", "input": "x"})
    assert emb.status_code == 200 and len(emb.json()["data"]) == 2
    assert chat_on_embedding.status_code == 400 and "embedding" in chat_on_embedding.json()["error"]["message"]
    assert embed_on_llm.status_code == 400


async def test_run_config_plugin_defaults_and_provider_listed_models_are_registered(tmp_path, pm):
    providers = {
        "inference": echo_providers("alpha")
        + [{"provider_id": "lister", "provider_type": "inline::echo", "config": {"listed_models": ["x1", "x2"]}}]
    }
    config = make_run_config(
        providers,
        tmp_path,
        models=[{"model_id": "from-config", "provider_id": "alpha", "provider_model_id": "cfg-llm"}],
    )
    async with stack_client(config, pm) as client:
        models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
        assert models["from-config"]["origin"] == "run_config"
        assert models["alpha-default-embedding"]["origin"] == "plugin_default"
        assert models["alpha-default-embedding"]["model_type"] == "embedding"
        assert models["lister/x1"]["origin"] == "listed_from_provider"
        assert models["lister/x1"]["provider_resource_id"] == "x1"
        assert answer(await client.post("/v1/chat/completions", json=chat("lister/x2"))) == "echo:x2: hi"
        assert answer(await client.post("/v1/chat/completions", json=chat("from-config"))) == "alpha:cfg-llm: hi"
    # the provider now lists only x2: x1 disappears on the next start, user registrations stay
    providers["inference"][1]["config"]["listed_models"] = ["x2"]
    async with stack_client(make_run_config(providers, tmp_path), pm) as client:
        ids = {m["id"] for m in (await client.get("/v1/models")).json()["data"]}
    assert "lister/x2" in ids and "lister/x1" not in ids


async def test_run_config_resources_may_refer_to_plugin_defaults_and_override_them(tmp_path, pm):
    overridden = {
        "model_id": "alpha-default-embedding",
        "provider_id": "alpha",
        "provider_model_id": "mine",
        "model_type": "embedding",
        "metadata": {"embedding_dimension": 8},
    }
    on_default = {"vector_db_id": "docs", "embedding_model": "beta-default-embedding", "provider_id": "vector_io-rec"}
    config = make_run_config(
        {"inference": echo_providers("alpha", "beta"), **recorder_providers()},
        tmp_path,
        models=[overridden],
        vector_dbs=[on_default],
    )
    for _ in range(2):  # a second start keeps the run config's resources as they are
        async with stack_client(config, pm) as client:
            model = (await client.get("/v1/models/alpha-default-embedding")).json()
            store = (await client.get("/v1/vector-dbs/docs")).json()
        assert model["origin"] == "run_config" and model["provider_resource_id"] == "mine"
        assert store["embedding_model"] == "beta-default-embedding" and store["embedding_dimension"] == 8


async def test_models_list_has_openai_and_llama_stack_fields(full_config, pm):
    async with stack_client(full_config, pm) as client:
        await client.post("/v1/models", json={"model_id": "m", "provider_id": "alpha", "metadata": {"ctx": 8192}})
        listing = (await client.get("/v1/models")).json()
        one = (await client.get("/v1/models/m")).json()
    assert listing["object"] == "list"
    entry = next(m for m in listing["data"] if m["id"] == "m")
    assert entry["object"] == "model" and isinstance(entry["created"], int) and entry["owned_by"]
    assert entry["identifier"] == "m" and entry["provider_id"] == "alpha" and entry["model_type"] == "llm"
    assert entry["custom_metadata"]["ctx"] == 8192
    assert one["identifier"] == "m" and one["type"] == "model" and "id" not in one


async def test_ids_with_slashes_work_in_paths(full_config, pm):
    async with stack_client(full_config, pm) as client:
        created = await client.post("/v1/models", json={"model_id": "org/family/7b", "provider_id": "beta"})
        fetched = await client.get("/v1/models/org/family/7b")
        deleted = await client.delete("/v1/models/org/family/7b")
    assert created.status_code == fetched.status_code == deleted.status_code == 200
    assert fetched.json()["identifier"] == "org/family/7b"


async def test_references_are_checked_both_ways(full_config, pm):
    async with stack_client(full_config, pm) as client:
        dangling = await client.post("/v1/vector-dbs", json={"vector_db_id": "v", "embedding_model": "nope"})
        ok = await client.post(
            "/v1/vector-dbs", json={"vector_db_id": "v", "embedding_model": "beta-default-embedding"}
        )
        in_use = await client.delete("/v1/models/beta-default-embedding")
        still_there = await client.get("/v1/models/beta-default-embedding")
        assert (await client.delete("/v1/vector-dbs/v")).status_code == 200
        freed = await client.delete("/v1/models/beta-default-embedding")
    assert dangling.status_code == 400 and dangling.json()["error"]["param"] == "embedding_model"
    assert ok.status_code == 200 and ok.json()["embedding_dimension"] == 8  # taken from the model's metadata
    assert in_use.status_code == 409 and "vector_db 'v'" in in_use.json()["error"]["message"]
    assert still_there.status_code == 200
    assert freed.status_code == 200


async def test_provider_hooks_see_registrations_and_stored_resources_on_start(full_config, pm):
    async with stack_client(full_config, pm) as client:
        assert (await client.post("/v1/shields", json={"shield_id": "guard"})).status_code == 200
        recorder = client.app.state.stack.providers["safety"]["safety-rec"].impl
        assert "shield:guard" in recorder.held
        run = await client.post(
            "/v1/safety/run-shield", json={"shield_id": "guard", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert run.status_code == 200, run.text
    async with stack_client(full_config, PluginManager(extra_plugins=[stack_test_plugin])) as client:
        recorder = client.app.state.stack.providers["safety"]["safety-rec"].impl
        assert "shield:guard" in recorder.held  # hydrated from the store at start-up
        assert (await client.delete("/v1/shields/guard")).status_code == 200
        assert "shield:guard" not in recorder.held


async def test_dataset_id_defaults_to_a_generated_one(full_config, pm):
    async with stack_client(full_config, pm) as client:
        created = await client.post(
            "/v1beta/datasets",
            json={"purpose": "eval/question-answer", "source": {"type": "uri", "uri": "hf://datasets/acme/qa"}},
        )
        old_path = await client.get("/v1/datasets")
    assert created.status_code == 200, created.text
    assert created.json()["identifier"].startswith("dataset-")
    assert [d["identifier"] for d in old_path.json()["data"]] == [created.json()["identifier"]]


async def test_two_stacks_on_one_store_see_each_others_registrations(tmp_path):
    config = make_run_config({"inference": echo_providers("alpha"), **recorder_providers()}, tmp_path)
    async with (
        stack_client(config, PluginManager(extra_plugins=[stack_test_plugin])) as first,
        stack_client(config, PluginManager(extra_plugins=[stack_test_plugin])) as second,
    ):
        await first.post("/v1/models", json={"model_id": "made-on-first", "provider_model_id": "llm"})
        assert answer(await second.post("/v1/chat/completions", json=chat("made-on-first"))) == "alpha:llm: hi"
        await second.delete("/v1/models/made-on-first")
        assert (await first.get("/v1/models/made-on-first")).status_code == 404
        again = await second.post("/v1/models", json={"model_id": "made-on-first"})
        duplicate = await first.post("/v1/models", json={"model_id": "made-on-first"})
    assert again.status_code == 200 and duplicate.status_code == 409
