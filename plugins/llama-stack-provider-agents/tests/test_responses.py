"""inline::builtin responses: the core's Responses conformance kit (the API through the stack with the real ``openai``
SDK, against a scripted model streaming the exact chat-completion wire format), and this provider's own limits."""

from __future__ import annotations

from pathlib import Path

import llama_stack_provider_agents.plugin as agents_plugin
import pytest

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.responses import (
    MODEL,
    WEATHER,
    ResponsesProviderTests,
    call_turn,
    scripted_inference,
    scripted_models,
)
from llama_stack_core.testing.scripted import ScriptedServer


class TestBuiltinResponses(ResponsesProviderTests):
    provider_type = "inline::builtin"
    conversations_provider = {"provider_type": "inline::builtin", "config": {}}
    extra_plugins = [agents_plugin]


@pytest.mark.anyio
async def test_max_infer_iters_makes_it_incomplete(tmp_path: Path, scripted: ScriptedServer) -> None:
    """The model keeps calling a tool nobody serves: each call is answered with an error, and the loop stops at
    max_infer_iters with status incomplete."""
    providers = {
        **scripted_inference(scripted),
        "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin", "config": {}}],
    }
    config = make_run_config(providers, tmp_path, models=scripted_models(MODEL))
    async with stack_client(config, PluginManager(extra_plugins=[agents_plugin])) as http:
        for _ in range(2):
            scripted.reply(stream=call_turn("get_forecast", {"city": "Oslo"}))
        body = {"model": MODEL, "input": "hi", "tools": [WEATHER], "max_infer_iters": 2}
        response = (await http.post("/v1/responses", json=body)).json()
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_infer_iters"}
    assert len(scripted.requests) == 2
    second = scripted.requests[1].json["messages"]
    assert second[-1]["role"] == "tool" and "get_forecast" in second[-1]["content"]
