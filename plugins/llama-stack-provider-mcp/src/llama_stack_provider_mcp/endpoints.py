"""Where a tool group's MCP server is, read from the group (``mcp_endpoint`` / ``args``), and the headers of a call.

A group names exactly one server:

- streamable HTTP: ``mcp_endpoint: {uri: "http(s)://..."}``, optional ``args: {headers: {name: value}}``;
- stdio: ``args: {command: [argv...], env: {NAME: value}, cwd: "dir"}`` (``env``, ``cwd`` optional): one long-lived
  process per group, started on first use.

Per request, ``X-LlamaStack-Provider-Data: {"mcp_headers": {"<endpoint uri>": {name: value}}}`` adds (or replaces)
headers for that endpoint. Header values are secrets: nothing here puts them in a message.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llama_stack_core.access import check_url, command_path, url_host, working_directory
from llama_stack_core.apis.resources import ToolGroup
from llama_stack_core.errors import BadRequestError
from llama_stack_core.request_context import provider_data

GROUP_PREFIX = "mcp::"


class _HttpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    headers: dict[str, str] = Field(default_factory=dict)


class _StdioArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


@dataclass(frozen=True)
class HttpServer:
    """An MCP server over streamable HTTP."""

    uri: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def shown(self) -> str:
        """The URI without credentials (userinfo, query), for messages and logs."""
        return shown_uri(self.uri)


@dataclass(frozen=True)
class StdioServer:
    """An MCP server run as a subprocess speaking over its stdin/stdout."""

    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None

    @property
    def shown(self) -> str:
        return f"stdio command '{os.path.basename(self.command[0])}'"


Server = HttpServer | StdioServer


def shown_uri(uri: str) -> str:
    parts = urlsplit(uri)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _first_error(exc: ValidationError, where: str) -> BadRequestError:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    return BadRequestError(f"{where}.{location}: {message}", param=where)


def http_server(uri: str, headers: dict[str, str] | None = None) -> HttpServer:
    """An HTTP server after checking that ``uri`` is an http(s) URL with a host the server may fetch from
    (``server.outbound.allowed_hosts``; :func:`checked_http_server` also resolves it against the blocked ranges)."""
    url_host(uri, "mcp_endpoint.uri", "mcp_endpoint")
    return HttpServer(uri=uri, headers=dict(headers or {}))


async def checked_http_server(uri: str, headers: dict[str, str] | None = None) -> HttpServer:
    """:func:`http_server`, its host resolved too: none of its addresses in ``server.outbound.blocked_networks``."""
    await check_url(uri, "mcp_endpoint.uri", "mcp_endpoint")
    return http_server(uri, headers)


def server_of(group: ToolGroup) -> Server:
    """The MCP server a tool group names; a group that names none, both, or a bad one -> ``BadRequestError``."""
    if not group.identifier.startswith(GROUP_PREFIX) or len(group.identifier) == len(GROUP_PREFIX):
        raise BadRequestError(f"MCP tool group ids are 'mcp::<name>', not '{group.identifier}'", param="toolgroup_id")
    args: dict[str, Any] = dict(group.args or {})
    if group.mcp_endpoint is not None:
        if "command" in args:
            raise BadRequestError("give either mcp_endpoint (HTTP) or args.command (stdio), not both", param="args")
        try:
            parsed = _HttpArgs.model_validate(args)
        except ValidationError as exc:
            raise _first_error(exc, "args") from None
        return http_server(group.mcp_endpoint.uri, parsed.headers)
    if "command" not in args:
        raise BadRequestError(
            "an MCP tool group needs mcp_endpoint {uri} (streamable HTTP) or args.command (stdio argv list)",
            param="mcp_endpoint",
        )
    try:
        stdio = _StdioArgs.model_validate(args)
    except ValidationError as exc:
        raise _first_error(exc, "args") from None
    command_path(stdio.command[0], stdio.env.get("PATH"), "args.command", "args")  # server.local_access.command_roots
    if stdio.cwd is not None:
        working_directory(stdio.cwd, "args.cwd", "args")
    return StdioServer(command=tuple(stdio.command), env=stdio.env, cwd=stdio.cwd)


def request_headers(uri: str) -> dict[str, str]:
    """The headers this request's provider data gives for ``uri`` (``mcp_headers``), or ``{}``."""
    given = provider_data().get("mcp_headers")
    if not given:
        return {}
    if not isinstance(given, dict):
        raise BadRequestError("provider data mcp_headers must map endpoint URIs to header objects")
    wanted = uri.rstrip("/")
    for endpoint, headers in given.items():
        if isinstance(endpoint, str) and endpoint.rstrip("/") == wanted:
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise BadRequestError("provider data mcp_headers: each endpoint maps to an object of string headers")
            return headers
    return {}


def headers_key(headers: dict[str, str]) -> str:
    """A digest naming a header set, to key sessions by (the values never leave this function)."""
    digest = hashlib.sha256()
    for name in sorted(headers, key=str.lower):
        digest.update(f"{name.lower()}\0{headers[name]}\0".encode())
    return digest.hexdigest()
