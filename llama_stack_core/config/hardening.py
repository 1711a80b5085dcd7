"""The server's protective settings: request limits (``server.limits``), CORS (``server.cors``), outbound fetches
(``server.outbound``) and local paths (``server.local_access``). Each is a section of its own under ``server``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: 8 MiB: a long-context chat (128k tokens is about 0.5 MB of text) with a few base64 images fits several times over;
#: bigger payloads belong in the Files API, which has its own limit (``max_upload_bytes``).
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
#: OpenAI's own bounds on one embeddings request: 2048 inputs, about 300k tokens (1M characters is ~250k tokens).
DEFAULT_MAX_EMBEDDING_INPUTS = 2048
DEFAULT_MAX_EMBEDDING_INPUT_CHARS = 1_000_000
#: The cloud metadata services (AWS, GCP, Azure, OpenStack at 169.254.169.254; AWS IPv6 at fd00:ec2::254) and the
#: rest of the link-local ranges, which hold nothing a client should reach through the server.
DEFAULT_BLOCKED_NETWORKS = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")


class LimitSettings(BaseModel):
    """``server.limits``: what one request, and one client, may ask of the server."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="Largest JSON request body; a larger one (chunked or not) is refused with 413 while it is read.",
    )
    max_upload_bytes: int = Field(
        default=DEFAULT_MAX_UPLOAD_BYTES,
        ge=1024,
        description="Largest multipart (file upload) request body, refused with 413 while it is read; a files "
        "provider may have a lower limit of its own.",
    )
    max_embedding_inputs: int = Field(
        default=DEFAULT_MAX_EMBEDDING_INPUTS, ge=1, description="Most inputs in one embeddings request (413 beyond)."
    )
    max_embedding_input_chars: int = Field(
        default=DEFAULT_MAX_EMBEDDING_INPUT_CHARS,
        ge=1,
        description="Most characters (or token ids) in all inputs of one embeddings request together (413 beyond): "
        "the bound on the CPU one request can take from a local embedding model.",
    )
    max_concurrent_streams_per_client: int | None = Field(
        default=128,
        ge=1,
        description="Streaming answers open at once per client address; one more is refused with 429. null: no "
        "limit. Behind a reverse proxy, the client address is the proxy's unless uvicorn trusts its "
        "X-Forwarded-For (FORWARDED_ALLOW_IPS).",
    )


class CorsSettings(BaseModel):
    """``server.cors``: cross-origin browser access. Off (no ``Access-Control-*`` headers) unless origins are listed."""

    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) browsers may call the API from; '*' allows any (never with "
        "credentials). Empty: CORS off.",
    )
    allowed_headers: list[str] = Field(
        default_factory=lambda: ["authorization", "content-type", "x-llamastack-provider-data", "traceparent"],
        description="Request headers a preflight allows.",
    )
    allow_credentials: bool = Field(default=False, description="Let browsers send cookies and HTTP auth.")
    max_age_seconds: int = Field(default=600, ge=0, description="How long browsers may cache a preflight answer.")


class OutboundSettings(BaseModel):
    """``server.outbound``: the hosts a client may make the server fetch from (MCP server URLs, dataset URLs)."""

    model_config = ConfigDict(extra="forbid")

    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host names or IP addresses (a leading '*.' matches subdomains) that client-given URLs may "
        "point at; null: any host outside blocked_networks (the permissive default, for development).",
    )
    blocked_networks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BLOCKED_NETWORKS),
        description="Address ranges (CIDR) never fetched from, whatever a host name resolves to: by default the "
        "link-local ranges, where cloud metadata services answer.",
    )


class LocalAccessSettings(BaseModel):
    """``server.local_access``: what on this machine client-given paths and commands may reach."""

    model_config = ConfigDict(extra="forbid")

    file_roots: list[str] = Field(
        default_factory=list,
        description="Directories that file:// URIs (datasets, documents) may read from; empty: file:// URIs are "
        "refused. Symlinks are resolved first, so a link out of a root is refused too.",
    )
    command_roots: list[str] | None = Field(
        default=None,
        description="Directories the executables (and working directories) of MCP stdio servers must be in; "
        "null: any executable on PATH. Registering a tool group runs its command: set this on shared servers.",
    )
