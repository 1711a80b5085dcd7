"""Secrets never leave: ``mask_secrets`` on every upstream message, and a served stack whose vendor echoes the key it
refuses keeps that key (a per-request one and a configured one) out of the answers, the logs, the trace store and
every stored row."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import SecretStr

from llama_stack_core.redaction import MASK, mask_secrets, remember_secret, remember_secrets_in
from llama_stack_core.request_context import PROVIDER_DATA
from llama_stack_core.testing.harness import make_run_config, served_stack
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer
from llama_stack_core.tracing import SpanRecord
from llama_stack_core.upstream import upstream_status_error

# -- the masking function ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "Incorrect API key provided: sk-proj-a1B2c3D4e5F6g7H8. You can find your key at ...",
            "sk-proj-a1B2c3D4e5F6g7H8",
        ),
        ("invalid header Authorization: Bearer abc.def-ghi_123456", "abc.def-ghi_123456"),
        ("The security token AKIAIOSFODNN7EXAMPLE is not valid", "AKIAIOSFODNN7EXAMPLE"),
        ("bad key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
        ("refused gsk_0aB1cD2eF3gH4iJ5kL6mN7oP8", "gsk_0aB1cD2eF3gH4iJ5kL6mN7oP8"),
        ('{"api_key": "letmein-please"}', "letmein-please"),
        ("token rejected: q8Zr3LmT0vXk2Wn9YbC4dFh7Js1Pa6Ge", "q8Zr3LmT0vXk2Wn9YbC4dFh7Js1Pa6Ge"),  # random-looking
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl expired", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_key_shaped_strings_are_masked(text, secret):
    masked = mask_secrets(text)
    assert secret not in masked and MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "model 'meta-llama/Llama-3.3-70B-Instruct-Turbo' not found",
        "max_tokens: 4096 is more than this model allows",
        "file file-0123456789abcdef0123456789abcdef has expired",
        "trace 0123456789abcdef0123456789abcdef",
        "keyword_weight=0.5",
        "this sentence has no secret, only words",
        "model DeepSeek-R1-Distill-Qwen-32B-Instruct-Q4_K_M not found",
        "loaded /work/.venv/lib/python3.11/site-packages/models/SmolLM2-135M-Instruct/Q4_1.gguf in 1.6s",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert mask_secrets(text) == text


def test_known_secrets_are_masked_by_value_whatever_their_shape():
    configured = f"cfg{uuid.uuid4().hex}"  # lower-case hex: no key shape, only its value gives it away
    per_request = f"req{uuid.uuid4().hex}"
    header = f"hdr{uuid.uuid4().hex}"

    class Config:  # a provider config model stand-in is enough for a plain value; the pydantic path below
        pass

    remember_secrets_in({"base_url": "http://x", "api_key": SecretStr(configured), "nested": {"password": "pw"}})
    token = PROVIDER_DATA.set({"openai_api_key": per_request, "mcp_headers": {"http://m": {"Authorization": header}}})
    try:
        text = f"echo {configured} and {per_request} and {header} and pw"
        masked = mask_secrets(text)
    finally:
        PROVIDER_DATA.reset(token)
    assert configured not in masked and per_request not in masked and header not in masked
    assert masked.endswith("and pw")  # too short to mask by value: it would hit ordinary words
    assert mask_secrets(f"later {per_request}") == f"later {per_request}"  # only while that request runs
    remember_secret("  ")
    assert mask_secrets("a  b") == "a  b"


def test_an_upstream_error_and_its_span_carry_no_key():
    key = f"k{uuid.uuid4().hex}"
    token = PROVIDER_DATA.set({"together_api_key": key})
    try:
        error = upstream_status_error(401, orjson.dumps({"error": {"message": f"Invalid API key {key}"}}), "vendor")
        span = SpanRecord("t" * 32, "s" * 16, None, "call", 0)
        span.fail(RuntimeError(f"wrapped: {key}"))
    finally:
        PROVIDER_DATA.reset(token)
    assert key not in error.message and MASK in error.message
    assert key not in span.attributes["error.message"]


# -- a served stack, grepped ---------------------------------------------------------------------------------------


def _echoing_vendor(request: RecordedRequest) -> Reply:
    """A vendor that refuses every key and says which one it got, as OpenAI's 401 does."""
    key = request.headers.get("authorization", "").removeprefix("Bearer ")
    message = f"Incorrect API key provided: {key}. You can find your API key at https://vendor.example/keys."
    return Reply(status=401, json={"error": {"message": message, "type": "invalid_request_error", "code": "bad_key"}})


def _rows(db: Path) -> str:
    """Every row of every table of a SQLite file, as text."""
    with sqlite3.connect(db) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"'))


@pytest.mark.slow
def test_a_vendor_echoing_the_key_leaks_it_nowhere(tmp_path):
    per_request = f"sk-{uuid.uuid4().hex}"
    configured = f"cfg-{uuid.uuid4().hex}"
    run_dir, conf_dir = tmp_path / "run", tmp_path / "conf"
    run_dir.mkdir()
    conf_dir.mkdir()
    with ScriptedServer(respond=_echoing_vendor) as vendor:
        providers = {
            "inference": [
                {
                    "provider_id": "openai",
                    "provider_type": "remote::openai",
                    "config": {"base_url": vendor.base_url, "api_key": configured},
                }
            ],
            "telemetry": [{"provider_id": "traces", "provider_type": "inline::trace-store", "config": {}}],
        }
        config = make_run_config(
            providers,
            run_dir,
            models=[
                {"model_id": "gpt", "provider_id": "openai", "provider_model_id": "gpt-x"},
                {
                    "model_id": "emb",
                    "provider_id": "openai",
                    "model_type": "embedding",
                    "metadata": {"embedding_dimension": 8},
                },
            ],
            telemetry={"max_traces_per_second": None},
        )
        answers = []
        with (
            served_stack(config, conf_dir, extra_args=["--log-level", "debug"]) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            chat = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
            data = {"X-LlamaStack-Provider-Data": orjson.dumps({"openai_api_key": per_request}).decode()}
            answers.append(client.post("/v1/chat/completions", json=chat, headers=data))
            answers.append(client.post("/v1/chat/completions", json={**chat, "stream": True}, headers=data))
            answers.append(client.post("/v1/chat/completions", json=chat))  # the configured key
            answers.append(client.post("/v1/embeddings", json={"model": "emb", "input": "x"}, headers=data))
            spans = client.get("/v1/telemetry/traces")  # once the spans are written
            answers.append(spans)
    assert len(vendor.requests) >= 4
    assert {r.headers["authorization"] for r in vendor.requests} >= {f"Bearer {per_request}", f"Bearer {configured}"}
    refused = [a for a in answers[:4] if a.status_code >= 400]
    assert len(refused) == 4, [a.text for a in answers]
    assert all("Incorrect API key provided: ********" in a.text for a in refused)

    logs = "\n".join(p.read_text(errors="replace") for p in conf_dir.glob("*.log"))
    dbs = [p for p in run_dir.rglob("*") if p.is_file() and p.suffix == ".db"]
    stored = "\n".join(_rows(db) for db in dbs)
    assert "error.message" in stored and "Incorrect API key provided: ********" in stored  # the spans were written
    raw = b"\n".join(p.read_bytes() for p in run_dir.rglob("*") if p.is_file())  # WAL files and all
    for secret in (per_request, configured):
        for where, text in (("answer", "\n".join(a.text for a in answers)), ("logs", logs), ("rows", stored)):
            assert secret not in text, f"{secret} in the {where}"
        assert secret.encode() not in raw
    assert logs.strip()  # the server did log (debug level), so the grep meant something
