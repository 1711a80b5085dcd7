"""Only explicit errors are 4xx: a provider's stray ValueError or KeyError is a 500 with a generic message."""

from __future__ import annotations

import logging

import faulty_plugin
import orjson
import pytest
from faulty_plugin import SECRET

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def config(tmp_path):
    providers = {"inference": [{"provider_id": "f", "provider_type": "inline::faulty", "config": {}}]}
    return make_run_config(providers, tmp_path, registered_resources={"models": [{"model_id": "m"}]})


async def chat(config, what: str, *, stream: bool = False):
    pm = PluginManager(autoload=False, extra_plugins=[faulty_plugin])
    async with stack_client(config, pm) as client:
        body = {"model": "m", "messages": [{"role": "user", "content": what}], "stream": stream}
        return await client.post("/v1/chat/completions", json=body)


@pytest.mark.parametrize("what", ["value-error", "key-error"])
async def test_a_provider_bug_is_a_500_with_a_generic_message_and_a_logged_traceback(config, caplog, what):
    with caplog.at_level(logging.ERROR):
        answer = await chat(config, what)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"message": "internal server error", "type": "internal_error", "code": "500"}}
    assert SECRET not in answer.text and "Traceback" not in answer.text
    [logged] = [r for r in caplog.records if r.exc_info]
    assert SECRET in str(logged.exc_info[1]) and logged.levelno == logging.ERROR


async def test_a_bad_request_error_is_a_400_with_its_message(config):
    answer = await chat(config, "bad-request")
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "message": "temperature is too hot for this model",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "400",
    }


async def test_a_bug_mid_stream_ends_the_stream_with_a_generic_error_event(config, caplog):
    with caplog.at_level(logging.ERROR):
        answer = await chat(config, "value-error", stream=True)
    events = [orjson.loads(line.removeprefix("data: ")) for line in answer.text.splitlines() if line]
    assert events[-1] == {"error": {"message": "internal server error", "type": "internal_error", "code": "500"}}
    assert SECRET not in answer.text
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)
