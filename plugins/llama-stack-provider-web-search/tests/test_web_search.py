"""remote::tavily-search and remote::brave-search against a scripted server speaking each vendor's wire format: the
request the vendor receives, the mapped result, where the key comes from, how vendor failures reach the caller, and
that the key is never shown."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from llama_stack_provider_web_search import plugin
from llama_stack_provider_web_search.brave import BraveSearch
from llama_stack_provider_web_search.config import (
    BRAVE_BASE_URL,
    BRAVE_PROVIDER_TYPE,
    TAVILY_BASE_URL,
    TAVILY_PROVIDER_TYPE,
    BraveSearchConfig,
    TavilySearchConfig,
)
from llama_stack_provider_web_search.provider import create_brave_provider, create_tavily_provider
from llama_stack_provider_web_search.search_tool import INPUT_SCHEMA, TOOL_NAME, WebSearchProvider
from llama_stack_provider_web_search.tavily import TavilySearch

from llama_stack_core.apis.resources import ToolGroup
from llama_stack_core.apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolRuntimeProvider
from llama_stack_core.errors import BadRequestError, NotFoundError, StackError, UpstreamError, UpstreamTimeoutError
from llama_stack_core.provider_contracts import RegistersToolGroups, ShutsDown
from llama_stack_core.request_context import PROVIDER_DATA
from llama_stack_core.testing.harness import plugin_stack, provider_run_config
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.scripted import Reply, ScriptedServer
from llama_stack_core.testing.tool_runtime import ToolRuntimeProviderTests

pytestmark = pytest.mark.anyio

CONFIG_KEY = "tvly-config-key-0123456789"
REQUEST_KEY = "request-key-abcdef9876543210"

# -- each vendor's wire format -----------------------------------------------------------------------------------

TAVILY_ANSWER = {
    "query": "who maintains llama stack",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Llama Stack",
            "url": "https://github.com/llamastack/llama-stack",
            "content": "Composable building blocks to build Llama apps.",
            "score": 0.91,
            "raw_content": None,
        },
        {
            "title": "Docs",
            "url": "https://llamastack.github.io",
            "content": "Llama Stack documentation.",
            "score": 0.42,
            "raw_content": None,
        },
    ],
    "response_time": 1.27,
    "request_id": "123e4567-e89b-12d3-a456-426614174111",
}

BRAVE_ANSWER = {
    "type": "search",
    "query": {"original": "llama stack", "show_strict_warning": False, "more_results_available": True},
    "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}], "top": [], "side": []},
    "web": {
        "type": "search",
        "results": [
            {
                "type": "search_result",
                "title": "<strong>Llama</strong> Stack",
                "url": "https://github.com/llamastack/llama-stack",
                "description": "Composable building blocks for <strong>Llama</strong> apps &amp; agents.",
                "age": "2 days ago",
                "language": "en",
                "family_friendly": True,
                "profile": {"name": "GitHub", "url": "https://github.com"},
            }
        ],
        "family_friendly": True,
    },
}

TAVILY_ERROR = {"detail": {"error": "Unauthorized: missing or invalid API key."}}
BRAVE_ERROR = {
    "type": "ErrorResponse",
    "error": {"id": "e-1", "status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID", "detail": "The token is invalid."},
    "time": 1700000000,
}


def tavily(server: ScriptedServer, **config: Any) -> TavilySearch:
    """The Tavily provider pointed at the scripted server (paths as on api.tavily.com)."""
    return create_tavily_provider(TavilySearchConfig(base_url=f"http://127.0.0.1:{server.port}", **config), {})


def brave(server: ScriptedServer, **config: Any) -> BraveSearch:
    """The Brave provider pointed at the scripted server (paths as on api.search.brave.com)."""
    return create_brave_provider(BraveSearchConfig(base_url=f"http://127.0.0.1:{server.port}/res/v1", **config), {})


@pytest.fixture
async def providers() -> AsyncIterator[list[WebSearchProvider]]:
    """Providers a test builds; shut down (their HTTP sessions closed) at the end."""
    built: list[WebSearchProvider] = []
    yield built
    for provider in built:
        await provider.shutdown()


def search(query: str = "llama stack", **kwargs: Any) -> InvokeToolRequest:
    return InvokeToolRequest(tool_name=TOOL_NAME, kwargs={"query": query, **kwargs}, toolgroup_id="builtin::websearch")


@contextmanager
def provider_data(data: dict[str, Any]) -> Iterator[None]:
    """The request's X-LlamaStack-Provider-Data, as the server sets it."""
    token = PROVIDER_DATA.set(data)
    try:
        yield
    finally:
        PROVIDER_DATA.reset(token)


# -- plugin and tool definition ----------------------------------------------------------------------------------


def test_plugin_module_is_light_and_declares_both_providers() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_web_search.plugin",
        ["llama_stack_provider_web_search.search_tool", "llama_stack_core.upstream", "aiohttp", "orjson"],
        call=["register_tool_runtime_providers"],
    )
    specs = {spec.provider_type: spec for spec in plugin.register_tool_runtime_providers()}
    assert set(specs) == {TAVILY_PROVIDER_TYPE, BRAVE_PROVIDER_TYPE}
    assert specs[TAVILY_PROVIDER_TYPE].config_class is TavilySearchConfig
    assert specs[BRAVE_PROVIDER_TYPE].factory.endswith(":create_brave_provider")
    assert TavilySearchConfig().base_url == TAVILY_BASE_URL and BraveSearchConfig().base_url == BRAVE_BASE_URL
    assert TavilySearchConfig.sample_config() == {"api_key": "${env.TAVILY_SEARCH_API_KEY:=}"}
    assert TavilySearchConfig(api_key="").api_key is None  # an unset ${env...:=} is no key, not an empty one


def test_default_tool_group_hook() -> None:
    [request] = plugin.register_tool_groups(provider_type=BRAVE_PROVIDER_TYPE, provider_id="b", config=None)
    assert (request.toolgroup_id, request.provider_id) == ("builtin::websearch", "b")
    assert plugin.register_tool_groups(provider_type="inline::rag-runtime", provider_id="r", config=None) is None


async def test_lists_one_tool_with_its_schema(scripted, providers) -> None:
    provider = tavily(scripted)
    providers.append(provider)
    assert isinstance(provider, ToolRuntimeProvider) and isinstance(provider, RegistersToolGroups)
    assert isinstance(provider, ShutsDown)
    [tool] = (await provider.list_runtime_tools(ListRuntimeToolsRequest(tool_group_id="builtin::websearch"))).data
    assert (tool.name, tool.toolgroup_id) == (TOOL_NAME, "builtin::websearch")
    assert tool.input_schema == INPUT_SCHEMA and tool.input_schema["required"] == ["query"]
    assert "tavily" in tool.description


async def test_refuses_mcp_endpoints_and_args_on_its_groups(scripted, providers) -> None:
    provider = brave(scripted)
    providers.append(provider)
    await provider.register_tool_group(ToolGroup(identifier="search", provider_id="brave"))
    with pytest.raises(BadRequestError, match="takes no mcp_endpoint"):
        await provider.register_tool_group(
            ToolGroup(identifier="mcp::x", provider_id="brave", mcp_endpoint={"uri": "http://localhost:1/mcp"})
        )
    with pytest.raises(BadRequestError, match="no tool group args"):
        await provider.register_tool_group(ToolGroup(identifier="g", provider_id="brave", args={"depth": 2}))


# -- Tavily on the wire ------------------------------------------------------------------------------------------


async def test_tavily_request_and_mapped_result(scripted, providers) -> None:
    scripted.reply(json=TAVILY_ANSWER)
    provider = tavily(scripted, api_key=CONFIG_KEY, search_depth="advanced")
    providers.append(provider)
    result = await provider.invoke_tool(search("who maintains llama stack", max_results=2))

    [sent] = scripted.requests
    assert (sent.method, sent.path, sent.query) == ("POST", "/search", "")
    assert sent.headers["authorization"] == f"Bearer {CONFIG_KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {
        "query": "who maintains llama stack",
        "max_results": 2,
        "search_depth": "advanced",
        "include_answer": False,
    }
    assert result.error_message is None
    assert json.loads(result.content) == {
        "query": "who maintains llama stack",
        "results": [
            {
                "title": "Llama Stack",
                "url": "https://github.com/llamastack/llama-stack",
                "snippet": "Composable building blocks to build Llama apps.",
                "score": 0.91,
            },
            {
                "title": "Docs",
                "url": "https://llamastack.github.io",
                "snippet": "Llama Stack documentation.",
                "score": 0.42,
            },
        ],
    }
    assert result.metadata == {
        "provider": "tavily",
        "query": "who maintains llama stack",
        "result_count": 2,
        "response_time": 1.27,
        "request_id": "123e4567-e89b-12d3-a456-426614174111",
    }


async def test_tavily_answer_and_default_max_results(scripted, providers) -> None:
    scripted.reply(json={**TAVILY_ANSWER, "answer": "The llamastack organisation."})
    provider = tavily(scripted, api_key=CONFIG_KEY, include_answer=True, max_results=1)
    providers.append(provider)
    result = await provider.invoke_tool(search())
    assert scripted.requests[0].json["max_results"] == 1 and scripted.requests[0].json["include_answer"] is True
    content = json.loads(result.content)
    assert content["answer"] == "The llamastack organisation."
    # a vendor answering more than asked for is cut to the requested count
    assert [hit["title"] for hit in content["results"]] == ["Llama Stack"] and result.metadata["result_count"] == 1


# -- Brave on the wire -------------------------------------------------------------------------------------------


async def test_brave_request_and_mapped_result(scripted, providers) -> None:
    scripted.reply(json=BRAVE_ANSWER)
    provider = brave(scripted, api_key=CONFIG_KEY, safesearch="strict")
    providers.append(provider)
    result = await provider.invoke_tool(search("llama stack & agents?", max_results=3))

    [sent] = scripted.requests
    assert (sent.method, sent.path, sent.body) == ("GET", "/res/v1/web/search", b"")
    assert sent.params == {"q": "llama stack & agents?", "count": "3", "safesearch": "strict"}
    assert sent.headers["x-subscription-token"] == CONFIG_KEY
    assert sent.headers["accept"] == "application/json" and "authorization" not in sent.headers
    assert json.loads(result.content) == {
        "query": "llama stack & agents?",
        "results": [
            {
                "title": "Llama Stack",
                "url": "https://github.com/llamastack/llama-stack",
                "snippet": "Composable building blocks for Llama apps & agents.",
            }
        ],
    }
    assert result.metadata == {
        "provider": "brave",
        "query": "llama stack & agents?",
        "result_count": 1,
        "more_results_available": True,
    }


async def test_brave_without_web_results_is_an_empty_result(scripted, providers) -> None:
    scripted.reply(json={"type": "search", "query": {"original": "zzzq"}, "mixed": {"type": "mixed"}})
    provider = brave(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    result = await provider.invoke_tool(search("zzzq"))
    assert json.loads(result.content)["results"] == [] and result.metadata["result_count"] == 0
    assert scripted.requests[0].params["count"] == "5"  # the configured default


# -- where the key comes from ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "data_key", "header"),
    [(tavily, "tavily_search_api_key", "authorization"), (brave, "brave_search_api_key", "x-subscription-token")],
)
async def test_provider_data_key_wins_over_the_configured_one(scripted, providers, make, data_key, header) -> None:
    scripted.default.json = TAVILY_ANSWER if make is tavily else BRAVE_ANSWER
    provider = make(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with provider_data({data_key: REQUEST_KEY}):
        await provider.invoke_tool(search())
    with provider_data({"some_other_api_key": REQUEST_KEY}):  # another provider's key is not ours
        await provider.invoke_tool(search())
    first, second = (request.headers[header] for request in scripted.requests)
    assert REQUEST_KEY in first and CONFIG_KEY not in first
    assert CONFIG_KEY in second


@pytest.mark.parametrize(("make", "data_key"), [(tavily, "tavily_search_api_key"), (brave, "brave_search_api_key")])
async def test_no_key_anywhere_is_a_400_saying_how_to_pass_one(scripted, providers, make, data_key) -> None:
    provider = make(scripted)
    providers.append(provider)
    with pytest.raises(BadRequestError) as refused:
        await provider.invoke_tool(search())
    assert "set api_key in the provider's config" in refused.value.message
    assert f'X-LlamaStack-Provider-Data: {{"{data_key}"' in refused.value.message
    with provider_data({data_key: REQUEST_KEY}):  # a per-request key alone is enough
        scripted.default.json = TAVILY_ANSWER if make is tavily else BRAVE_ANSWER
        await provider.invoke_tool(search())
    with provider_data({data_key: 42}), pytest.raises(BadRequestError, match="must be a non-empty string"):
        await provider.invoke_tool(search())
    assert len(scripted.requests) == 1  # refused calls never reach the vendor


# -- bad invocations ---------------------------------------------------------------------------------------------


async def test_bad_invocations_are_4xx_naming_the_problem(scripted, providers) -> None:
    provider = tavily(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(NotFoundError, match="tool 'fetch_page' not found"):
        await provider.invoke_tool(InvokeToolRequest(tool_name="fetch_page", kwargs={"query": "x"}))
    for kwargs, param in [({}, "query"), ({"query": ""}, "query"), ({"query": "x", "max_results": 21}, "max_results")]:
        with pytest.raises(BadRequestError) as refused:
            await provider.invoke_tool(InvokeToolRequest(tool_name=TOOL_NAME, kwargs=kwargs))
        assert refused.value.param == param and param in refused.value.message
    assert scripted.requests == []


# -- vendor failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "status", "error"),
    [(tavily, 401, TAVILY_ERROR), (tavily, 432, TAVILY_ERROR), (brave, 401, BRAVE_ERROR), (brave, 403, BRAVE_ERROR)],
)
async def test_refused_key_is_a_502_without_the_key(scripted, providers, make, status, error) -> None:
    scripted.reply(status=status, json=error)
    provider = make(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(UpstreamError) as failed:
        await provider.invoke_tool(search())
    assert failed.value.status_code == 502
    assert f"refused the API key (HTTP {status})" in failed.value.message and "api_key" in failed.value.message
    assert CONFIG_KEY not in failed.value.message


@pytest.mark.parametrize("make", [tavily, brave])
async def test_rate_limit_is_a_429_with_retry_after(scripted, providers, make) -> None:
    scripted.reply(status=429, json={"detail": {"error": "Rate limit exceeded"}}, headers={"Retry-After": "12"})
    scripted.reply(status=429, json={"detail": {"error": "Rate limit exceeded"}})
    provider = make(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(StackError) as limited:
        await provider.invoke_tool(search())
    assert (limited.value.status_code, limited.value.error_type) == (429, "rate_limit_error")
    assert limited.value.message.endswith("rate limit reached (HTTP 429); retry after 12 s")
    with pytest.raises(StackError) as no_hint:
        await provider.invoke_tool(search())
    assert no_hint.value.status_code == 429 and "retry after" not in no_hint.value.message


async def test_other_vendor_4xx_is_a_502_with_the_vendor_message_scrubbed(scripted, providers) -> None:
    scripted.reply(status=422, json={"type": "ErrorResponse", "error": {"detail": f"bad token {CONFIG_KEY} for q"}})
    provider = brave(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(UpstreamError) as failed:
        await provider.invoke_tool(search())
    assert (
        "refused the search (HTTP 422): " in failed.value.message and "bad token ******** for q" in failed.value.message
    )
    assert CONFIG_KEY not in failed.value.message


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        ({"status": 500, "json": {"detail": {"error": "internal"}}}, "answered 500: internal"),
        ({"status": 503, "raw": b"<html>bad gateway</html>"}, "answered 503"),
        ({"raw": b"<html>not json</html>"}, "invalid JSON"),
        ({"json": {"results": "nope"}}, "unexpected shape"),
        ({"json": ["not", "an", "object"]}, "unexpected shape"),
    ],
)
async def test_vendor_5xx_and_garbage_are_502(scripted, providers, reply, match) -> None:
    scripted.reply(**reply)
    provider = tavily(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(UpstreamError, match=match) as failed:
        await provider.invoke_tool(search())
    assert failed.value.status_code == 502


async def test_brave_garbage_is_502(scripted, providers) -> None:
    scripted.reply(json={"type": "search", "web": {"results": [{"title": "no url"}]}})
    provider = brave(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with pytest.raises(UpstreamError, match=r"unexpected shape \(web.results.0.url"):
        await provider.invoke_tool(search())


async def test_unreachable_is_502_and_hang_is_504(scripted, providers) -> None:
    scripted.reply(json=TAVILY_ANSWER, delay=2)
    provider = tavily(scripted, api_key=CONFIG_KEY, timeout=0.2)
    providers.append(provider)
    with pytest.raises(UpstreamTimeoutError) as hung:
        await provider.invoke_tool(search())
    assert hung.value.status_code == 504 and "did not answer within the timeout" in hung.value.message
    gone = create_tavily_provider(TavilySearchConfig(base_url="http://127.0.0.1:9", api_key=CONFIG_KEY), {})
    providers.append(gone)
    with pytest.raises(UpstreamError, match="cannot reach") as unreachable:
        await gone.invoke_tool(search())
    assert unreachable.value.status_code == 502 and CONFIG_KEY not in unreachable.value.message


# -- the key is never shown --------------------------------------------------------------------------------------


async def test_key_never_in_logs(scripted, providers, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for reply in ({"json": TAVILY_ANSWER}, {"status": 401, "json": TAVILY_ERROR}, {"status": 500, "raw": b"x"}):
        scripted.reply(**reply)
    provider = tavily(scripted, api_key=CONFIG_KEY)
    providers.append(provider)
    with provider_data({"tavily_search_api_key": REQUEST_KEY}):
        for _ in range(3):
            with suppress(StackError):
                await provider.invoke_tool(search())
    assert len(scripted.requests) == 3
    assert CONFIG_KEY not in caplog.text and REQUEST_KEY not in caplog.text


# -- through the stack -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider_type", "base"), [(TAVILY_PROVIDER_TYPE, ""), (BRAVE_PROVIDER_TYPE, "/res/v1")])
async def test_stack_registers_the_default_group_and_hides_the_key(tmp_path, scripted, caplog, provider_type, base):
    caplog.set_level(logging.DEBUG)
    config = {"base_url": f"http://127.0.0.1:{scripted.port}{base}", "api_key": CONFIG_KEY}
    run_config = provider_run_config(tmp_path, provider_type, config, provider_id="search", api="tool_runtime")
    async with plugin_stack(plugin, run_config) as client:
        groups = (await client.get("/v1/toolgroups")).json()["data"]
        assert [(g["identifier"], g["provider_id"]) for g in groups] == [("builtin::websearch", "search")]
        refused = await client.post(
            "/v1/toolgroups",
            json={"toolgroup_id": "mcp::x", "provider_id": "search", "mcp_endpoint": {"uri": "http://localhost:1/"}},
        )
        assert refused.status_code == 400 and "takes no mcp_endpoint" in refused.json()["error"]["message"]
        for path in ("/v1/providers", "/v1/providers/search"):
            answer = await client.get(path)
            assert answer.status_code == 200 and CONFIG_KEY not in answer.text
        [provider] = [p for p in (await client.get("/v1/providers")).json()["data"] if p["provider_id"] == "search"]
        assert provider["provider_type"] == provider_type and provider["config"]["api_key"] == "********"
    assert CONFIG_KEY not in caplog.text


async def test_invoke_through_the_stack_with_a_per_request_key(tmp_path, scripted, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    scripted.reply(json=BRAVE_ANSWER)
    scripted.reply(status=401, json=BRAVE_ERROR)
    scripted.reply(
        status=429, json={"type": "ErrorResponse", "error": {"detail": "slow"}}, headers={"Retry-After": "3"}
    )
    scripted.reply(json=BRAVE_ANSWER, delay=2)
    config = {"base_url": f"http://127.0.0.1:{scripted.port}/res/v1", "timeout": 0.3}
    run_config = provider_run_config(tmp_path, BRAVE_PROVIDER_TYPE, config, provider_id="brave", api="tool_runtime")
    headers = {"X-LlamaStack-Provider-Data": json.dumps({"brave_search_api_key": REQUEST_KEY})}
    body = {"tool_name": TOOL_NAME, "kwargs": {"query": "llama stack", "max_results": 2}}
    async with plugin_stack(plugin, run_config) as client:
        no_key = await client.post("/v1/tool-runtime/invoke", json=body)
        assert no_key.status_code == 400 and "brave_search_api_key" in no_key.json()["error"]["message"]
        assert scripted.requests == []

        found = await client.post("/v1/tool-runtime/invoke", json=body, headers=headers)
        assert found.status_code == 200, found.text
        assert json.loads(found.json()["content"])["results"][0]["url"] == "https://github.com/llamastack/llama-stack"
        assert found.json()["metadata"]["provider"] == "brave"
        assert scripted.requests[-1].headers["x-subscription-token"] == REQUEST_KEY
        assert scripted.requests[-1].params["count"] == "2"

        refused = await client.post("/v1/tool-runtime/invoke", json=body, headers=headers)
        assert refused.status_code == 502 and "refused the API key" in refused.json()["error"]["message"]
        limited = await client.post("/v1/tool-runtime/invoke", json=body, headers=headers)
        assert limited.status_code == 429 and "retry after 3 s" in limited.json()["error"]["message"]
        hung = await client.post("/v1/tool-runtime/invoke", json=body, headers=headers)
        assert hung.status_code == 504, hung.text

        bad = await client.post("/v1/tool-runtime/invoke", json={**body, "kwargs": {"max_results": 3}})
        assert bad.status_code == 400 and "query" in bad.json()["error"]["message"]
        for answer in (no_key, found, refused, limited, hung):
            assert REQUEST_KEY not in answer.text
    assert REQUEST_KEY not in caplog.text and len(scripted.requests) == 4


# -- the core's tool runtime kit ---------------------------------------------------------------------------------


class _WebSearchKit(ToolRuntimeProviderTests):
    """The kit against a scripted vendor that answers every search with ``answer``."""

    answer: dict[str, Any]
    base_path: str = ""
    extra_plugins = [plugin]
    toolgroup = {"toolgroup_id": "builtin::websearch"}
    expected_tools = {TOOL_NAME}
    invocation = (TOOL_NAME, {"query": "llama stack", "max_results": 1})
    invalid_invocation = (TOOL_NAME, {"query": "llama stack", "max_results": "ten"}, "max_results")

    @pytest.fixture(scope="class")
    @classmethod
    def vendor(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer(default=Reply(json=cls.answer)) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls, workdir, vendor: ScriptedServer) -> dict[str, Any]:
        return {"base_url": f"http://127.0.0.1:{vendor.port}{cls.base_path}", "api_key": CONFIG_KEY}

    def check_result(self, result: dict[str, Any]) -> None:
        content = json.loads(result["content"])
        assert content["query"] == "llama stack"
        assert [hit["url"] for hit in content["results"]] == ["https://github.com/llamastack/llama-stack"]
        assert result["metadata"]["result_count"] == 1


class TestTavilyKit(_WebSearchKit):
    provider_type = TAVILY_PROVIDER_TYPE
    answer = TAVILY_ANSWER


class TestBraveKit(_WebSearchKit):
    provider_type = BRAVE_PROVIDER_TYPE
    answer = BRAVE_ANSWER
    base_path = "/res/v1"
