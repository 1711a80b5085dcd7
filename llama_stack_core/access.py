"""What client-given locations may reach: local paths (``file://`` URIs, MCP stdio commands) and outbound URLs.

The settings are the run config's ``server.local_access`` and ``server.outbound``; the stack installs them when it
starts (:func:`configure`), for the whole process. Every refusal is a ``BadRequestError`` (400) that names the
setting to change. A URL's host is resolved and every address it resolves to is checked, so a name pointing at a
metadata service is refused like the address itself (a host that changes its answer between this check and the
connection is not caught: restrict ``allowed_hosts`` where that matters).
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .config.hardening import LocalAccessSettings, OutboundSettings
from .errors import BadRequestError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AccessPolicy:
    """The installed settings, with roots resolved and networks parsed once."""

    def __init__(self, outbound: OutboundSettings, local: LocalAccessSettings) -> None:
        self.allowed_hosts = None if outbound.allowed_hosts is None else [h.lower() for h in outbound.allowed_hosts]
        self.blocked: list[Network] = [ipaddress.ip_network(n, strict=False) for n in outbound.blocked_networks]
        self.file_roots = [_resolved(root) for root in local.file_roots]
        self.command_roots = None if local.command_roots is None else [_resolved(r) for r in local.command_roots]


def _resolved(path: str) -> Path:
    return Path(path).expanduser().resolve()


_policy = AccessPolicy(OutboundSettings(), LocalAccessSettings())


def configure(outbound: OutboundSettings, local: LocalAccessSettings) -> None:
    """Install a run config's settings for this process (the stack does it at start-up)."""
    global _policy
    _policy = AccessPolicy(outbound, local)


def policy() -> AccessPolicy:
    return _policy


# -- local paths ---------------------------------------------------------------------------------------------------


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def local_path(path: str, what: str, param: str | None = None) -> Path:
    """``path`` resolved (``..`` and symlinks followed), if it lies inside one of the ``file_roots``."""
    roots = _policy.file_roots
    if not roots:
        raise BadRequestError(
            f"{what}: local files are off on this server (list directories in server.local_access.file_roots)",
            param=param,
        )
    resolved = Path(path).expanduser().resolve()
    if not _inside(resolved, roots):
        raise BadRequestError(f"{what}: '{path}' is outside the allowed directories", param=param)
    return resolved


def file_uri_path(uri: str, what: str, param: str | None = None) -> Path:
    """The local path of a ``file://`` URI, checked by :func:`local_path` (a remote host in it: refused)."""
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise BadRequestError(f"{what}: '{uri}' is not a local file:// URI", param=param)
    return local_path(unquote(parts.path), what, param)


def command_path(program: str, search_path: str | None, what: str, param: str | None = None) -> Path:
    """The executable an MCP stdio command runs, if it is allowed: anywhere on PATH when ``command_roots`` is null,
    else only inside those directories (symlinks resolved first)."""
    found = shutil.which(program, path=search_path)
    if found is None:
        raise BadRequestError(f"{what}: '{program}' is not an executable on PATH", param=param)
    resolved = Path(found).resolve()
    roots = _policy.command_roots
    if roots is not None and not _inside(resolved, roots):
        raise BadRequestError(
            f"{what}: '{program}' is outside the allowed directories (server.local_access.command_roots)", param=param
        )
    return resolved


def working_directory(path: str, what: str, param: str | None = None) -> Path:
    """An MCP stdio server's working directory: an existing directory, inside ``command_roots`` when they are set."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir():
        raise BadRequestError(f"{what}: '{path}' is not a directory", param=param)
    roots = _policy.command_roots
    if roots is not None and not _inside(resolved, roots):
        raise BadRequestError(f"{what}: '{path}' is outside the allowed directories", param=param)
    return resolved


# -- outbound URLs -------------------------------------------------------------------------------------------------


def _host_allowed(host: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        if pattern.startswith("*.") and (host.endswith(pattern[1:]) or host == pattern[2:]):
            return True
        if host == pattern:
            return True
    return False


def _blocked(address: Address) -> Network | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return next((network for network in _policy.blocked if address in network), None)


def url_host(url: str, what: str, param: str | None = None) -> str:
    """The host of an http(s) URL, after checking the scheme and ``allowed_hosts`` (no name resolution)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise BadRequestError(f"{what}: '{url}' is not an http:// or https:// URL with a host", param=param)
    host = host.lower().rstrip(".")
    allowed = _policy.allowed_hosts
    if allowed is not None and not _host_allowed(host, allowed):
        raise BadRequestError(
            f"{what}: host '{host}' is not one this server fetches from (server.outbound.allowed_hosts)", param=param
        )
    return host


async def check_url(url: str, what: str, param: str | None = None) -> None:
    """Refuse (400) an outbound URL whose host is not allowed or resolves to a blocked address (a metadata
    service, by default)."""
    host = url_host(url, what, param)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return  # unresolvable: the fetch itself will fail, and reaches nothing
        addresses = [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in infos]
    for address in addresses:
        network = _blocked(address)
        if network is not None:
            raise BadRequestError(
                f"{what}: host '{host}' is in a blocked address range ({network}; server.outbound.blocked_networks)",
                param=param,
            )


async def check_uri(uri: str, what: str, param: str | None = None) -> None:
    """A client-given data location: ``file://`` inside ``file_roots``, or an http(s) URL :func:`check_url` allows.
    Other schemes (``data:``, ``hf://``, ...) are left to the provider that reads them."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file":
        file_uri_path(uri, what, param)
    elif scheme in ("http", "https"):
        await check_url(uri, what, param)
    elif not scheme and uri.startswith(("/", "~", "./", "../")):  # a bare local path: the same rule as file://
        local_path(uri, what, param)
