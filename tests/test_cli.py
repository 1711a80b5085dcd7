"""The ``stack`` command line: every command's --help, listings, config print/validate, serve."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import openai
import orjson
import pytest
import yaml
from llama_stack_client import LlamaStackClient
from stack_test_plugin import echo_providers

from llama_stack_core.testing.harness import (
    make_run_config,
    serve_command,
    served_stack,
    wait_for_port,
    wait_healthy,
)

COMMANDS = [
    [],
    ["list-apis"],
    ["list-providers"],
    ["list-distros"],
    ["config"],
    ["config", "print"],
    ["config", "validate"],
    ["serve"],
    ["new-provider"],
]


def stack(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    import os

    result = subprocess.run(
        [sys.executable, "-m", "llama_stack_core.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "stack")
def test_help(command):
    out = stack(*command, "--help").stdout
    assert out.startswith("usage: stack")


def test_list_apis_names_every_api():
    out = stack("list-apis").stdout
    for api in (
        "inference",
        "safety",
        "responses",
        "conversations",
        "agents",
        "tool_runtime",
        "vector_io",
        "files",
        "datasetio",
        "scoring",
        "eval",
        "telemetry",
        "batches",
    ):
        assert f"\n{api} " in out


def test_list_providers_shows_plugin_providers(plugin_env):
    out = stack("list-providers", env=plugin_env).stdout
    line = next(row for row in out.splitlines() if "inline::echo" in row)
    assert line.split()[0] == "inference"
    assert "stack_test_plugin" in line
    only_safety = stack("list-providers", "--api", "safety", env=plugin_env).stdout
    assert "inline::recorder" in only_safety and "inline::echo" not in only_safety


def test_starter_distro_is_listed_and_printable():
    assert "starter" in stack("list-distros").stdout
    printed = yaml.safe_load(stack("config", "print", "starter").stdout)
    assert printed["distro_name"] == "starter" and printed["server"]["port"] == 8321


def test_config_print_substitutes_env_and_masks_secrets(tmp_path, plugin_env):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            make_run_config(
                {
                    "inference": [
                        {
                            "provider_id": "e",
                            "provider_type": "inline::echo",
                            "config": {"api_key": "${env.ECHO_KEY}", "prefix": "${env.PREFIX:=hello}"},
                        }
                    ]
                },
                tmp_path,
            )
        )
    )
    out = stack("config", "print", str(path), env={**plugin_env, "ECHO_KEY": "sk-hidden-999"}).stdout
    printed = yaml.safe_load(out)
    shown = printed["providers"]["inference"][0]["config"]
    assert (shown["api_key"], shown["prefix"], shown["listed_models"]) == ("********", "hello", [])
    assert "sk-hidden-999" not in out


def test_config_validate_reports_problems_cleanly(tmp_path, plugin_env):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(make_run_config({"inference": echo_providers("e")}, tmp_path, container_image="x")))
    result = stack("config", "validate", str(good), env=plugin_env)
    assert "OK" in result.stdout and "container_image" in result.stderr and "ignored" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            make_run_config(
                {
                    "inference": [
                        {"provider_id": "e", "provider_type": "inline::echo", "config": {"prefix": 3, "nope": True}},
                        {"provider_id": "f", "provider_type": "remote::missing", "config": {}},
                    ]
                },
                tmp_path,
            )
        )
    )
    result = stack("config", "validate", str(bad), env=plugin_env, check=False)
    assert result.returncode == 2
    assert "nope" in result.stderr and "remote::missing" in result.stderr
    assert "Traceback" not in result.stderr
    missing = stack("config", "validate", str(tmp_path / "absent.yaml"), check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr


@pytest.mark.slow
def test_serve_a_run_config_file(tmp_path, plugin_env):
    config = make_run_config(
        {"inference": echo_providers("e")}, tmp_path, models=[{"model_id": "m", "provider_model_id": "llm"}]
    )
    with served_stack(config, tmp_path, env=plugin_env) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "over http"}]}
        )
        assert response.json()["choices"][0]["message"]["content"] == "e:llm: over http"
        assert httpx.get(f"{url}/v1/version").status_code == 200
        assert_json_400_for_an_over_long_url(url)


def assert_json_400_for_an_over_long_url(url: str) -> None:
    """uvicorn refuses it before the app sees it; the answer is still the JSON error body (issue 19's probe)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:  # httpx refuses such a URL itself
        connection.sendall(b"GET /v1/models/" + b"m" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert "too long" in orjson.loads(body)["error"]["message"]


@pytest.mark.slow
def test_serve_fails_fast_and_cleanly_on_a_bad_provider(tmp_path, plugin_env):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            make_run_config(
                {"inference": [{"provider_id": "x", "provider_type": "remote::nowhere", "config": {}}]}, tmp_path
            )
        )
    )
    result = stack("serve", str(path), "--port", "0", env=plugin_env, check=False)
    assert result.returncode == 2
    assert "remote::nowhere" in result.stderr and "inline::echo" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_serve_on_port_0_reports_the_port_and_a_taken_port_is_a_clean_error(tmp_path, plugin_env):
    config = make_run_config({"inference": echo_providers("e")}, tmp_path)
    with served_stack(config, tmp_path, env=plugin_env, extra_args=["--workers", "2"]) as url:  # port 0
        port = url.rsplit(":", 1)[1]
        assert port != "0" and httpx.get(f"{url}/v1/health").status_code == 200
        assert_json_400_for_an_over_long_url(url)  # the workers' protocol too
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        taken = stack("serve", str(path), "--host", "127.0.0.1", "--port", port, env=plugin_env, check=False)
    assert taken.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr.splitlines()[-1]
    assert "Traceback" not in taken.stderr


@pytest.mark.slow
def test_serve_a_distro_by_name(tmp_path):
    with served_stack("starter", tmp_path, env={"SQLITE_STORE_DIR": str(tmp_path)}, timeout=120) as url:
        assert httpx.get(f"{url}/v1/health").json() == {"status": "OK"}
        models = {m["id"]: m["model_type"] for m in httpx.get(f"{url}/v1/models").json()["data"]}
        assert models == {"smollm2-135m-instruct": "llm", "gemma-3-270m": "llm", "all-MiniLM-L6-v2": "embedding"}
        # safety and tools work offline out of the box, through both SDKs: the rule shield is the default shield,
        # builtin::rag indexes and searches a vector store
        leak = "mail me at jane.doe@example.com"
        moderation = openai.OpenAI(base_url=f"{url}/v1", api_key="unused").moderations.create(input=[leak, "hi"])
        assert moderation.model == "rule-shield"
        assert [r.flagged for r in moderation.results] == [True, False]
        client = LlamaStackClient(base_url=url)
        shielded = client.safety.run_shield(
            shield_id="rule-shield", messages=[{"role": "user", "content": leak}], params={}
        )
        assert shielded.violation is not None and shielded.violation.violation_level in ("warn", "error")
        assert [g.identifier for g in client.toolgroups.list()] == ["builtin::rag"]
        assert "knowledge_search" in {t.name for t in client.tool_runtime.list_tools(tool_group_id="builtin::rag")}
        client.vector_dbs.register(vector_db_id="notes", embedding_model="all-MiniLM-L6-v2", embedding_dimension=384)
        document = {"document_id": "d1", "content": "The lighthouse keeper's cat is named Biscuit."}
        client.tool_runtime.rag_tool.insert(documents=[document], vector_db_id="notes", chunk_size_in_tokens=64)
        found = client.tool_runtime.invoke_tool(
            tool_name="knowledge_search", kwargs={"query": "name of the cat", "vector_db_ids": ["notes"]}
        )
        assert found.error_message is None and "Biscuit" in str(found.content)
        # and agents: a conversation, and a response from the default chat model stored in it (plumbing, not content)
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
        conversation = sdk.conversations.create()
        response = sdk.responses.create(
            model="smollm2-135m-instruct", input="Say hi.", max_output_tokens=8, conversation=conversation.id
        )
        assert response.status in ("completed", "incomplete") and response.output
        assert len(sdk.conversations.items.list(conversation.id).data) == 2
    assert (tmp_path / "registry.db").exists()


@pytest.mark.slow
def test_sigterm_stops_providers_cleanly(tmp_path, plugin_env):
    marker = tmp_path / "stopped"
    config = make_run_config({"inference": echo_providers("e", shutdown_marker=str(marker))}, tmp_path)
    with served_stack(config, tmp_path, env=plugin_env):
        assert not marker.exists()
    assert marker.read_text() == "stopped"  # served_stack sends SIGTERM and waits for the exit


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once_with_a_warning_not_a_traceback(tmp_path, plugin_env):
    import os
    import signal

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(make_run_config({"inference": echo_providers("e")}, tmp_path)))
    port_file, log_path = tmp_path / "port", tmp_path / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            serve_command(path, port_file),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **plugin_env},
        )
    try:
        port = wait_for_port(process, port_file, log_path)
        wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
        process.send_signal(signal.SIGINT)
        time.sleep(0.03)  # a signal sent at once would merge with the first; uvicorn's shutdown waits >= 0.1 s
        process.send_signal(signal.SIGINT)  # uvicorn: quit now, without the lifespan shutdown
        process.wait(timeout=15)
    finally:
        process.kill()
    output = log_path.read_text()
    assert "forced exit: the providers were not stopped" in output
    assert "Traceback" not in output and "Exception in 'lifespan' protocol" not in output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_exits_non_zero_with_the_reason_when_start_up_fails(tmp_path, plugin_env, workers):
    path = tmp_path / "run.yaml"
    config = make_run_config({"inference": echo_providers("e")}, tmp_path)
    config["models"] = [{"model_id": "m", "provider_id": "e", "provider_model_id": "bad-model"}]
    path.write_text(yaml.safe_dump(config))
    result = stack("serve", str(path), "--port", "0", "--workers", workers, env=plugin_env, check=False)
    assert result.returncode == 2
    assert "echo cannot serve bad-model" in result.stderr.splitlines()[-1]
