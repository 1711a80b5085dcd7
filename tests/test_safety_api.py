"""Safety routing: the conformance kit on a small word shield, the default shield for moderations, and start-up
checks of the ``safety:`` section."""

from __future__ import annotations

import pytest
import tool_safety_plugin

from llama_stack_core.errors import ConfigError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.safety import SafetyProviderTests

SHIELD_PROVIDER = {"provider_id": "words", "provider_type": "inline::word-shield", "config": {}}


class TestWordShield(SafetyProviderTests):
    provider_type = "inline::word-shield"
    provider_config = {"words": ["forbidden"]}
    shield = {"shield_id": "words"}
    flagged_text = "this text has a forbidden word"
    clean_text = "the weather is fine today"
    extra_plugins = [tool_safety_plugin]


def _pm() -> PluginManager:
    return PluginManager(extra_plugins=[tool_safety_plugin])


@pytest.mark.anyio
async def test_moderation_without_model_or_default_shield_is_400_naming_model(tmp_path):
    config = make_run_config({"safety": [SHIELD_PROVIDER]}, tmp_path, shields=[{"shield_id": "w"}])
    async with stack_client(config, _pm()) as http:
        response = await http.post("/v1/moderations", json={"input": "hello"})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "model"
        assert "default_shield_id" in response.json()["error"]["message"]


@pytest.mark.anyio
async def test_shield_params_reach_the_provider_and_a_bad_param_is_400(tmp_path):
    config = make_run_config({"safety": [SHIELD_PROVIDER]}, tmp_path)
    async with stack_client(config, _pm()) as http:
        created = await http.post("/v1/shields", json={"shield_id": "pets", "params": {"words": ["cat"]}})
        assert created.status_code == 200, created.text
        flagged = await http.post("/v1/moderations", json={"model": "pets", "input": ["a cat", "a forbidden dog"]})
        assert [r["flagged"] for r in flagged.json()["results"]] == [True, False]
        refused = await http.post("/v1/shields", json={"shield_id": "bad", "params": {"words": "cat"}})
        assert refused.status_code == 400
        assert (await http.get("/v1/shields/bad")).status_code == 404


@pytest.mark.anyio
async def test_a_default_shield_that_is_not_registered_stops_the_start(tmp_path):
    config = make_run_config({"safety": [SHIELD_PROVIDER]}, tmp_path, safety={"default_shield_id": "nope"})
    with pytest.raises(ConfigError, match="default_shield_id: shield 'nope' is not registered"):
        async with stack_client(config, _pm()):
            pass


@pytest.mark.anyio
async def test_an_unknown_key_in_the_safety_section_is_refused(tmp_path):
    config = make_run_config({"safety": [SHIELD_PROVIDER]}, tmp_path, safety={"default_shield": "w"})
    with pytest.raises(ConfigError, match="unknown key safety.default_shield "):
        async with stack_client(config, _pm()):
            pass
