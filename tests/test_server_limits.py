"""Request limits (``server.limits``): JSON body and upload size checked while reading (413), embeddings input size
checked before any work (413), streaming answers open per client address (429)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from stack_test_plugin import echo_providers

from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.config.model import RunConfig
from llama_stack_core.server.app import create_app
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import ScriptedServer, chat_chunk
from llama_stack_core.testing.waiting import eventually

pytestmark = pytest.mark.anyio

CHAT = {"model": "alpha/m", "messages": [{"role": "user", "content": "hello"}]}


def limited(tmp_path, providers: dict[str, Any] | None = None, **limits: Any) -> RunConfig:
    config = make_run_config(providers or {"inference": echo_providers("alpha")}, tmp_path)
    config["server"] = {"limits": limits}
    if "inference" in config["providers"]:
        config["models"] = [
            {"model_id": "alpha/m", "provider_id": "alpha", "provider_model_id": "m"},
            {
                "model_id": "alpha/e",
                "provider_id": "alpha",
                "model_type": "embedding",
                "metadata": {"embedding_dimension": 4},
            },
        ]
    return parse_run_config(config)


def assert_error(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == error_type and error["code"] == str(status)
    assert "Traceback" not in response.text
    return error


class AsgiCall:
    """One request driven straight through the ASGI app: its body in chunks, what was read of it, what was sent."""

    def __init__(self, app, method: str, path: str, chunks: list[bytes], client: str = "10.0.0.1", headers=()):
        self.app, self.chunks = app, list(chunks)
        self.scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), *headers],
            "client": (client, 40000),
        }
        self.read = 0  # body messages the app received
        self.sent: list[dict[str, Any]] = []
        self.done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.read < len(self.chunks):
            self.read += 1
            return {
                "type": "http.request",
                "body": self.chunks[self.read - 1],
                "more_body": self.read < len(self.chunks),
            }
        await self.done.wait()  # the client stays connected until the test is over
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self) -> None:
        await self.app(self.scope, self.receive, self.send)

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.sent if m["type"] == "http.response.start"), None)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


# -- body size -----------------------------------------------------------------------------------------------------


async def test_json_body_over_the_limit_is_413_and_the_rest_is_never_read(tmp_path, pm):
    app = create_app(limited(tmp_path, max_body_bytes=64 * 1024), pm)
    async with app.running():
        chunk = b" " * 16 * 1024  # whitespace: valid JSON padding, so only the size can refuse it
        call = AsgiCall(app, "POST", "/v1/chat/completions", [orjson.dumps(CHAT), *[chunk] * 100])
        await call.run()
        call.done.set()
    assert call.status == 413
    assert orjson.loads(call.body)["error"]["type"] == "request_too_large"
    assert call.read <= 6  # stopped at the limit: 64 KiB is 4-5 of the 16 KiB chunks, not all 101


async def test_json_body_under_the_limit_in_many_chunks_is_served(tmp_path, pm):
    app = create_app(limited(tmp_path, max_body_bytes=64 * 1024), pm)
    async with app.running():
        call = AsgiCall(app, "POST", "/v1/chat/completions", [orjson.dumps(CHAT), *[b" " * 1024] * 10])
        await call.run()
        call.done.set()
    assert call.status == 200, call.body
    assert orjson.loads(call.body)["choices"][0]["message"]["content"] == "alpha:m: hello"


async def test_an_upload_announcing_too_many_bytes_is_refused_before_reading(tmp_path, pm):
    files = {
        "files": [{"provider_id": "fs", "provider_type": "inline::localfs", "config": {"storage_dir": str(tmp_path)}}]
    }
    app = create_app(limited(tmp_path, files, max_upload_bytes=4096), pm)
    async with app.running():
        headers = [(b"content-type", b"multipart/form-data; boundary=XyZ"), (b"content-length", b"10000000")]
        call = AsgiCall(app, "POST", "/v1/files", [b"--XyZ--\r\n"])
        call.scope["headers"] = headers
        await call.run()
        call.done.set()
    assert call.status == 413
    assert call.read == 0


async def test_default_limit_refuses_a_10_mb_body_over_http(tmp_path, pm):
    config = make_run_config({"inference": echo_providers("alpha")}, tmp_path)
    async with stack_client(config, pm) as client:
        big = {**CHAT, "messages": [{"role": "user", "content": "x" * 10_000_000}]}
        error = assert_error(await client.post("/v1/chat/completions", json=big), 413, "request_too_large")
    assert "8388608" in error["message"]


async def test_upload_over_the_limit_is_413_while_reading(tmp_path, pm):
    files = {
        "files": [{"provider_id": "fs", "provider_type": "inline::localfs", "config": {"storage_dir": str(tmp_path)}}]
    }
    app = create_app(limited(tmp_path, files, max_upload_bytes=32 * 1024), pm)
    async with app.running():
        boundary = b"XyZ"
        head = (
            b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n"
        )
        headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
        call = AsgiCall(app, "POST", "/v1/files", [head, *[b"a" * 8192] * 50, b"\r\n--XyZ--\r\n"], headers=headers)
        call.scope["headers"] = headers
        await call.run()
        call.done.set()
    assert call.status == 413, call.body
    assert orjson.loads(call.body)["error"]["type"] == "request_too_large"
    assert call.read <= 6


# -- embeddings ----------------------------------------------------------------------------------------------------


async def test_a_10_mb_embeddings_input_is_refused_before_any_work(tmp_path, pm):
    config = limited(tmp_path, max_body_bytes=64 * 1024 * 1024)
    async with stack_client(config, pm) as client:
        started = time.perf_counter()
        response = await client.post("/v1/embeddings", json={"model": "alpha/e", "input": ["word " * 1000] * 2000})
        took = time.perf_counter() - started
        error = assert_error(response, 413, "request_too_large")
        assert error["param"] == "input" and "1000000" in error["message"]
        many = await client.post("/v1/embeddings", json={"model": "alpha/e", "input": ["a"] * 3000})
        assert assert_error(many, 413, "request_too_large")["param"] == "input"
        ok = await client.post("/v1/embeddings", json={"model": "alpha/e", "input": ["a few words"] * 10})
    assert took < 5  # parsing 10 MB of JSON, not embedding it
    assert ok.status_code == 200 and len(ok.json()["data"]) == 10


# -- concurrent streams --------------------------------------------------------------------------------------------


async def test_streams_per_client_address_are_bounded(tmp_path, pm):
    with ScriptedServer() as upstream:
        providers = {
            "inference": [
                {
                    "provider_id": "alpha",
                    "provider_type": "remote::openai-compat",
                    "config": {"base_url": upstream.base_url},
                }
            ]
        }
        app = create_app(limited(tmp_path, providers, max_concurrent_streams_per_client=1), pm)
        async with app.running():
            body = orjson.dumps({**CHAT, "stream": True})
            upstream.reply(stream=[chat_chunk("one"), chat_chunk("two")], hold_after=1)
            held = AsgiCall(app, "POST", "/v1/chat/completions", [body])
            task = asyncio.ensure_future(held.run())
            await eventually(lambda: b"one" in held.body, what="the first chunk")

            refused = AsgiCall(app, "POST", "/v1/chat/completions", [body])
            await refused.run()
            assert refused.status == 429
            assert orjson.loads(refused.body)["error"]["type"] == "rate_limit_exceeded"
            assert len(upstream.requests) == 1  # refused before reaching the vendor

            upstream.reply(stream=[chat_chunk("other")])
            other = AsgiCall(app, "POST", "/v1/chat/completions", [body], client="10.0.0.2")
            await other.run()
            assert other.status == 200 and b"other" in other.body

            upstream.release()
            await task
            assert b"two" in held.body
            upstream.reply(stream=[chat_chunk("again")])
            again = AsgiCall(app, "POST", "/v1/chat/completions", [body])
            await again.run()
            assert again.status == 200 and b"again" in again.body  # the slot was given back
            for call in (held, refused, other, again):
                call.done.set()


async def test_a_stream_that_fails_to_start_gives_its_slot_back(tmp_path, pm):
    with ScriptedServer() as upstream:
        providers = {
            "inference": [
                {
                    "provider_id": "alpha",
                    "provider_type": "remote::openai-compat",
                    "config": {"base_url": upstream.base_url},
                }
            ]
        }
        app = create_app(limited(tmp_path, providers, max_concurrent_streams_per_client=1), pm)
        async with app.running():
            body = orjson.dumps({**CHAT, "stream": True})
            upstream.reply(status=500, json={"error": {"message": "boom"}})
            failed = AsgiCall(app, "POST", "/v1/chat/completions", [body])
            await failed.run()
            assert failed.status == 502
            upstream.reply(stream=[chat_chunk("fine")])
            after = AsgiCall(app, "POST", "/v1/chat/completions", [body])
            await after.run()
            assert after.status == 200 and b"fine" in after.body
            for call in (failed, after):
                call.done.set()
