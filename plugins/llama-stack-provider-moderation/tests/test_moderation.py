"""remote::moderation against a scripted server speaking OpenAI's moderations wire format: what is sent (body, auth),
how answers map to shields and moderations, and how upstream failures and keys are handled."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_moderation import plugin
from llama_stack_provider_moderation.config import DEFAULT_BASE_URL, ModerationConfig

from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.safety import SafetyProviderTests
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer

PROVIDER_TYPE = "remote::moderation"
KEY = "sk-mod-secret-0123456789"
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

pytestmark = pytest.mark.anyio


def result(*flagged: str, types: tuple[str, ...] = ("text",)) -> dict[str, Any]:
    """One result as omni-moderation answers it: every category, scores, and the input types each applied to."""
    return {
        "flagged": bool(flagged),
        "categories": {c: c in flagged for c in CATEGORIES},
        "category_scores": {c: 0.91 if c in flagged else 0.0004 for c in CATEGORIES},
        "category_applied_input_types": {c: list(types) for c in CATEGORIES},
    }


def moderation(*results: dict[str, Any]) -> dict[str, Any]:
    return {"id": "modr-5f3c2a", "model": "omni-moderation-2024-09-26", "results": list(results)}


def run_config(tmp_path, scripted: ScriptedServer, **config: Any) -> dict[str, Any]:
    shields = [{"shield_id": "openai-mod", "provider_shield_id": "omni-moderation-latest"}]
    return provider_run_config(
        tmp_path,
        PROVIDER_TYPE,
        {"base_url": scripted.base_url, **config},
        provider_id="moderation",
        api="safety",
        shields=shields,
    )


def shield_call(*texts: Any, shield: str = "openai-mod") -> dict[str, Any]:
    return {"shield_id": shield, "messages": [{"role": "user", "content": t} for t in texts]}


# -- without a stack ----------------------------------------------------------------------------------------------


def test_config_defaults_sample_and_spec():
    config = ModerationConfig()
    assert config.base_url == DEFAULT_BASE_URL and config.api_key is None and config.timeout == 30
    assert ModerationConfig(api_key="").api_key is None
    assert ModerationConfig.sample_config()["api_key"] == "${env.MODERATION_API_KEY:=}"
    with pytest.raises(ValueError, match="http"):
        ModerationConfig(base_url="api.openai.com/v1")
    [spec] = plugin.register_safety_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.api_dependencies == ()
    assert_plugin_module_is_light(
        "llama_stack_provider_moderation.plugin",
        {"llama_stack_provider_moderation.provider", "aiohttp"},
        call=["register_safety_providers"],
    )


# -- through the stack ----------------------------------------------------------------------------------------------


async def test_moderation_sends_the_wire_body_with_the_key_and_maps_each_result(tmp_path, scripted):
    scripted.reply(json=moderation(result(), result("hate", "violence")))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY)) as client:
        response = await client.post("/v1/moderations", json={"model": "openai-mod", "input": ["hello", "I hate you"]})
    assert response.status_code == 200, response.text
    [request] = scripted.requests
    assert (request.method, request.path) == ("POST", "/v1/moderations")
    assert request.json == {"input": ["hello", "I hate you"], "model": "omni-moderation-latest"}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == "modr-5f3c2a" and body["model"] == "openai-mod"
    clean, flagged = body["results"]
    assert clean["flagged"] is False and clean["categories"] == {c: False for c in CATEGORIES}
    assert clean["metadata"] == {} and clean.get("user_message") is None
    assert flagged["flagged"] is True
    assert {c for c, on in flagged["categories"].items() if on} == {"hate", "violence"}
    assert flagged["category_scores"]["hate"] == 0.91 and flagged["category_scores"]["sexual"] == 0.0004
    assert flagged["category_applied_input_types"]["hate"] == ["text"]
    assert flagged["metadata"] == {"violation_type": "hate,violence"} and "hate, violence" in flagged["user_message"]


async def test_a_string_input_and_multimodal_inputs_pass_through(tmp_path, scripted):
    scripted.reply(json=moderation(result()))
    scripted.reply(json=moderation(result("sexual", types=("text", "image"))))
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    config = {**run_config(tmp_path, scripted, api_key=KEY), "safety": {"default_shield_id": "openai-mod"}}
    async with plugin_stack(plugin, config) as client:
        single = await client.post("/v1/moderations", json={"input": "just text"})
        multimodal = await client.post("/v1/moderations", json={"model": "openai-mod", "input": parts})
    assert single.status_code == 200 and len(single.json()["results"]) == 1
    assert scripted.requests[0].json == {"input": "just text", "model": "omni-moderation-latest"}
    assert multimodal.status_code == 200, multimodal.text
    assert scripted.requests[1].json["input"] == parts
    assert multimodal.json()["results"][0]["category_applied_input_types"]["sexual"] == ["text", "image"]


async def test_run_shield_moderates_each_message_text_and_reports_flagged_ones(tmp_path, scripted):
    scripted.reply(json=moderation(result(), result("self-harm", "self-harm/intent")))
    scripted.reply(json=moderation(result()))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY)) as client:
        flagged = await client.post(
            "/v1/safety/run-shield",
            json={
                "shield_id": "openai-mod",
                "messages": [
                    {"role": "system", "content": "Be kind."},
                    {"role": "assistant", "content": None, "tool_calls": []},
                    {"role": "user", "content": [{"type": "text", "text": "I want to hurt myself"}]},
                ],
            },
        )
        clean = await client.post("/v1/safety/run-shield", json=shield_call("bread recipe"))
    assert flagged.status_code == 200, flagged.text
    assert scripted.requests[0].json == {
        "input": ["Be kind.", "I want to hurt myself"],
        "model": "omni-moderation-latest",
    }
    violation = flagged.json()["violation"]
    assert violation["violation_level"] == "error"
    assert violation["metadata"] == {
        "violation_type": "self-harm,self-harm/intent",
        "categories": ["self-harm", "self-harm/intent"],
        "flagged_messages": [2],
    }
    assert "self-harm" in violation["user_message"]
    assert clean.json() == {"violation": None}


async def test_per_request_key_wins_and_no_key_sends_no_auth(tmp_path, scripted):
    scripted.reply(json=moderation(result()))
    scripted.reply(json=moderation(result()))
    async with plugin_stack(plugin, run_config(tmp_path, scripted)) as client:
        keyless = await client.post("/v1/moderations", json={"model": "openai-mod", "input": "a"})
        keyed = await client.post(
            "/v1/moderations",
            json={"model": "openai-mod", "input": "a"},
            headers={"X-LlamaStack-Provider-Data": json.dumps({"moderation_api_key": "sk-per-request"})},
        )
    assert keyless.status_code == keyed.status_code == 200
    assert "authorization" not in scripted.requests[0].headers
    assert scripted.requests[1].headers["authorization"] == "Bearer sk-per-request"


@pytest.mark.parametrize(
    ("reply", "status", "words"),
    [
        ({"status": 500, "json": {"error": {"message": "overloaded"}}}, 502, "overloaded"),
        ({"status": 503, "raw": b"<html>bad gateway</html>"}, 502, "bad gateway"),
        ({"raw": b"{not json"}, 502, "invalid JSON"),
        ({"json": {"id": "x", "model": "m", "results": [{"flagged": "maybe"}]}}, 502, "not a moderation"),
        ({"json": moderation(result())}, 502, "1 results for 2 inputs"),
        ({"json": moderation(result(), result()), "delay": 2.0}, 504, "timed out"),
    ],
)
async def test_upstream_failures_are_clear_json_errors(tmp_path, scripted, reply, status, words):
    scripted.reply(**reply)
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY, timeout=0.5)) as client:
        response = await client.post("/v1/moderations", json={"model": "openai-mod", "input": ["a", "b"]})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]


async def test_unreachable_service_is_502(tmp_path, scripted):
    config = run_config(tmp_path, scripted, api_key=KEY)
    config["providers"]["safety"][0]["config"]["base_url"] = "http://127.0.0.1:9/v1"
    async with plugin_stack(plugin, config) as client:
        response = await client.post("/v1/safety/run-shield", json=shield_call("a"))
    assert response.status_code == 502 and "cannot reach" in response.json()["error"]["message"]


async def test_a_refused_key_is_a_502_that_says_so_and_never_shows_the_key(tmp_path, scripted, caplog):
    caplog.set_level(logging.DEBUG)
    scripted.reply(
        status=401, json={"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error"}}
    )
    scripted.reply(status=400, json={"error": {"message": f"key {KEY} cannot use model nope"}})
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY)) as client:
        refused = await client.post("/v1/moderations", json={"model": "openai-mod", "input": "a"})
        bad = await client.post("/v1/safety/run-shield", json=shield_call("a"))
        providers = await client.get("/v1/providers")
    assert refused.status_code == 502
    message = refused.json()["error"]["message"]
    assert "refused the credentials (401)" in message and "moderation_api_key" in message
    assert "Incorrect API key provided: ***" in message
    assert bad.status_code == 400 and "cannot use model nope" in bad.json()["error"]["message"]
    assert providers.status_code == 200
    for text in (refused.text, bad.text, providers.text, caplog.text):
        assert KEY not in text
    [entry] = [p for p in providers.json()["data"] if p["provider_id"] == "moderation"]
    assert entry["config"]["api_key"] == "********"


async def test_bad_input_is_a_clear_4xx_without_calling_out(tmp_path, scripted):
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY)) as client:
        unknown = await client.post("/v1/safety/run-shield", json=shield_call("a", shield="nope"))
        unknown_model = await client.post("/v1/moderations", json={"model": "nope", "input": "a"})
        no_text = await client.post(
            "/v1/safety/run-shield", json={"shield_id": "openai-mod", "messages": [{"role": "user", "content": ""}]}
        )
        per_call = await client.post("/v1/safety/run-shield", json={**shield_call("a"), "params": {"x": 1}})
        empty = await client.post("/v1/moderations", json={"model": "openai-mod", "input": []})
        params = await client.post(
            "/v1/shields", json={"shield_id": "s2", "provider_id": "moderation", "params": {"threshold": 0.5}}
        )
    assert scripted.requests == []
    assert unknown.status_code == 404 and unknown_model.status_code == 404
    assert no_text.status_code == 400 and no_text.json()["error"]["param"] == "messages"
    assert per_call.status_code == 400
    assert empty.status_code in (400, 422)
    assert params.status_code == 400 and "threshold" in params.json()["error"]["message"]


async def test_a_registered_shield_names_its_upstream_model(tmp_path, scripted):
    scripted.reply(json=moderation(result()))
    async with plugin_stack(plugin, run_config(tmp_path, scripted, api_key=KEY)) as client:
        registered = await client.post(
            "/v1/shields",
            json={"shield_id": "legacy", "provider_id": "moderation", "provider_shield_id": "text-moderation-stable"},
        )
        assert registered.status_code == 200, registered.text
        response = await client.post("/v1/moderations", json={"model": "legacy", "input": "a"})
        assert (await client.delete("/v1/shields/legacy")).status_code in (200, 204)
        gone = await client.post("/v1/moderations", json={"model": "legacy", "input": "a"})
    assert response.status_code == 200 and response.json()["model"] == "legacy"
    assert scripted.requests[0].json["model"] == "text-moderation-stable"
    assert gone.status_code == 404


# -- the core's Safety conformance kit, with a scripted moderation endpoint that flags FLAGGED -----------------------

FLAGGED = "I will hurt you and your family."


def scripted_moderation(request: RecordedRequest) -> Reply:
    """Answer like OpenAI: one result per input, flagged (harassment/threatening, violence) when it holds FLAGGED."""
    inputs = request.json["input"]
    if isinstance(inputs, str) or (inputs and not isinstance(inputs[0], str)):
        inputs = [json.dumps(inputs)]  # a string, or one multimodal input
    return Reply(
        json=moderation(*(result("harassment/threatening", "violence") if FLAGGED in i else result() for i in inputs))
    )


class TestModerationConformance(SafetyProviderTests):
    provider_type = PROVIDER_TYPE
    shield = {"shield_id": "omni", "provider_shield_id": "omni-moderation-latest"}
    flagged_text = FLAGGED
    clean_text = "What is a good bread recipe?"
    extra_plugins = [plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def endpoint(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer(respond=scripted_moderation) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir: Path, endpoint: ScriptedServer) -> dict[str, Any]:
        return {"base_url": endpoint.base_url, "api_key": KEY}

    @pytest.mark.anyio
    async def test_every_call_reached_the_endpoint_with_the_key(self, http: Any, endpoint: ScriptedServer) -> None:
        await http.post("/v1/moderations", json={"input": "x"})
        assert endpoint.requests and all(r.path == "/v1/moderations" for r in endpoint.requests)
        assert {r.headers["authorization"] for r in endpoint.requests} == {f"Bearer {KEY}"}
