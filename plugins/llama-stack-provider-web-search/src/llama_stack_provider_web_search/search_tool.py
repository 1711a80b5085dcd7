"""The ``web_search`` tool both vendors serve: its definition, its arguments, the key it runs with, the result it
returns and how a vendor's failures reach the caller. A vendor subclass only sends one search and reads the answer."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llama_stack_core.apis.common import DataList, ToolDef
from llama_stack_core.apis.resources import ToolGroup
from llama_stack_core.apis.tool_runtime import InvokeToolRequest, ListRuntimeToolsRequest, ToolInvocationResult
from llama_stack_core.errors import BadRequestError, NotFoundError, StackError, UpstreamError, UpstreamTimeoutError
from llama_stack_core.redaction import mask_secrets
from llama_stack_core.request_context import provider_data
from llama_stack_core.server.errors import format_validation_error
from llama_stack_core.upstream import UpstreamClient

from .config import MAX_RESULTS_LIMIT, WebSearchConfig

log = logging.getLogger(__name__)

TOOL_NAME = "web_search"
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "description": "What to search the web for."},
        "max_results": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_RESULTS_LIMIT,
            "description": "How many results to return (the provider's configured default when absent).",
        },
    },
    "required": ["query"],
    "additionalProperties": False,
}
#: Vendor statuses that mean the key was refused (Tavily uses 432/433 for exhausted plan and pay-as-you-go limits).
KEY_REFUSED = frozenset({401, 403, 432, 433})


class WebSearchArgs(BaseModel):
    """The tool's arguments (the router checks them against ``INPUT_SCHEMA`` first; this guards direct calls)."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)
    max_results: int | None = Field(default=None, ge=1, le=MAX_RESULTS_LIMIT)


class SearchHit(BaseModel):
    """One result, the same shape for every vendor."""

    title: str
    url: str
    snippet: str
    score: float | None = None


class SearchPage(BaseModel):
    """What one search found, plus vendor extras for the result's ``metadata``."""

    hits: list[SearchHit]
    answer: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class WebSearchProvider:
    """A ToolRuntimeProvider with one tool, ``web_search``, in any tool group registered on it."""

    #: Key of ``X-LlamaStack-Provider-Data`` carrying a per-request API key.
    provider_data_api_key: ClassVar[str]
    #: The vendor's name in results and error messages.
    vendor: ClassVar[str]

    def __init__(self, config: WebSearchConfig, provider_type: str) -> None:
        self.config = config
        self.provider_type = provider_type
        # no default headers: the key is sent per call, so a per-request key never meets the configured one
        self.client = UpstreamClient(config.base_url, name=provider_type, timeout=config.timeout, max_connections=64)

    # -- vendor part ---------------------------------------------------------------------------------------------

    async def search(self, query: str, max_results: int, api_key: str) -> SearchPage:
        """Send one search to the vendor and read its answer (raise :class:`UpstreamError` on a malformed one)."""
        raise NotImplementedError

    # -- tool groups ---------------------------------------------------------------------------------------------

    async def register_tool_group(self, tool_group: ToolGroup) -> None:
        if tool_group.mcp_endpoint is not None:
            raise BadRequestError(
                f"{self.provider_type} serves the built-in web_search tool and takes no mcp_endpoint; "
                "register MCP servers on an MCP tool runtime provider"
            )
        if tool_group.args:
            raise BadRequestError(f"{self.provider_type} takes no tool group args (got {sorted(tool_group.args)})")

    async def unregister_tool_group(self, tool_group: ToolGroup) -> None:
        return None

    async def list_runtime_tools(self, request: ListRuntimeToolsRequest) -> DataList[ToolDef]:
        tool = ToolDef(
            name=TOOL_NAME,
            description=f"Search the web ({self.vendor}) and return the top results: title, url and snippet.",
            input_schema=INPUT_SCHEMA,
            toolgroup_id=request.tool_group_id,
        )
        return DataList[ToolDef](data=[tool])

    # -- invocation ----------------------------------------------------------------------------------------------

    async def invoke_tool(self, request: InvokeToolRequest) -> ToolInvocationResult:
        if request.tool_name != TOOL_NAME:
            raise NotFoundError(f"tool '{request.tool_name}' not found: {self.provider_type} serves only {TOOL_NAME}")
        try:
            args = WebSearchArgs.model_validate(request.kwargs)
        except ValidationError as exc:
            message, param = format_validation_error(exc)
            raise BadRequestError(message.replace("invalid request", "invalid arguments", 1), param=param) from None
        api_key = self.api_key()
        max_results = args.max_results or self.config.max_results
        try:
            page = await self.search(args.query, max_results, api_key)
        except StackError as exc:
            raise self._caller_error(exc, api_key) from None
        return self._result(args.query, page, max_results)

    def api_key(self) -> str:
        """The key for this call: the request's provider data first, then the config; neither is a 400."""
        key = provider_data().get(self.provider_data_api_key)
        if key is not None and not (isinstance(key, str) and key):
            raise BadRequestError(f"provider data '{self.provider_data_api_key}' must be a non-empty string")
        if key:
            return key
        if self.config.api_key is not None:
            return self.config.api_key.get_secret_value()
        raise BadRequestError(
            f"{self.provider_type} has no API key: set api_key in the provider's config, or send the header "
            f'X-LlamaStack-Provider-Data: {{"{self.provider_data_api_key}": "<your {self.vendor} API key>"}}'
        )

    def _result(self, query: str, page: SearchPage, max_results: int) -> ToolInvocationResult:
        hits = page.hits[:max_results]
        body: dict[str, Any] = {"query": query}
        if page.answer:
            body["answer"] = page.answer
        body["results"] = [hit.model_dump(exclude_none=True) for hit in hits]
        metadata = {"provider": self.vendor, "query": query, "result_count": len(hits), **page.metadata}
        return ToolInvocationResult(content=orjson.dumps(body).decode(), metadata=metadata)

    def _caller_error(self, exc: StackError, api_key: str) -> StackError:
        """The vendor's failure as the caller should see it, never carrying the key."""
        if isinstance(exc, UpstreamTimeoutError):
            return UpstreamTimeoutError(f"{self.provider_type}: {self.vendor} did not answer within the timeout")
        status = getattr(exc, "upstream_status", None)
        vendor_says = mask_secrets(exc.message, (api_key,) if api_key else ())
        if status in KEY_REFUSED:
            return UpstreamError(
                f"{self.provider_type}: {self.vendor} refused the API key (HTTP {status}); check the provider's "
                f"api_key or the '{self.provider_data_api_key}' sent in provider data"
            )
        if status == 429:
            retry_after = getattr(exc, "retry_after", None)
            hint = f"; retry after {mask_secrets(retry_after, (api_key,) if api_key else ())} s" if retry_after else ""
            error = StackError(f"{self.provider_type}: {self.vendor} rate limit reached (HTTP 429){hint}")
            error.status_code, error.error_type = 429, "rate_limit_error"
            return error
        if status is not None and 400 <= status < 500:
            return UpstreamError(
                f"{self.provider_type}: {self.vendor} refused the search (HTTP {status}): {vendor_says}"
            )
        return exc if vendor_says == exc.message else UpstreamError(vendor_says)  # 5xx, unreachable

    async def shutdown(self) -> None:
        await self.client.close()


def parse_json(body: bytes, where: str) -> Any:
    """A vendor's JSON answer; anything else is a 502."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"{where} answered with invalid JSON: {body[:200]!r}") from None


def malformed(where: str, exc: ValidationError) -> UpstreamError:
    message, _ = format_validation_error(exc)
    return UpstreamError(f"{where} answered in an unexpected shape ({message.removeprefix('invalid request: ')})")
