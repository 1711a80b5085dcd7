"""The run config's ``server.auth`` section, in upstream's shape where upstream has one.

``provider_config`` (upstream): ``type: oauth2_token`` verifies bearer JWTs against a JWKS URL or a shared HS256 key,
or opaque tokens by introspection (RFC 7662). ``api_keys`` (this server's): static keys, stored as their SHA-256.
Upstream's other provider types (``github_token``, ``custom``, ``kubernetes``, ``upstream_header``) are refused, so a
config asking for them never starts open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .policy import AccessRule

DEFAULT_PUBLIC_PATHS = ("/v1/health", "/v1/version")

#: upstream's default: which token claims become which attributes of the user
DEFAULT_CLAIMS_MAPPING = {
    "sub": "roles",
    "username": "roles",
    "groups": "teams",
    "team": "teams",
    "project": "projects",
    "tenant": "namespaces",
    "namespace": "namespaces",
}
UNIMPLEMENTED_TYPES = ("github_token", "custom", "kubernetes", "upstream_header")
KEY_HASH_PATTERN = r"^sha256:[0-9a-f]{64}$"


class ApiKey(BaseModel):
    """One static API key: its hash (``stack auth hash-key``), whose it is and what it may be."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The user id requests with this key act as.")
    key_hash: str = Field(pattern=KEY_HASH_PATTERN, description="`sha256:<hex>` of the key (`stack auth hash-key`).")
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="More attributes for access rules, e.g. {projects: [p1]}."
    )
    expires_at: datetime | None = Field(
        default=None, description="After this instant the key is refused (UTC if naive)."
    )

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class JwksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str = Field(description="Where the identity provider publishes its signing keys.")
    token: SecretStr | None = Field(default=None, description="A bearer token for fetching the JWKS, if it needs one.")
    key_recheck_period: float = Field(default=3600, gt=0, description="Seconds a fetched key set is trusted.")
    unknown_kid_refetch_seconds: float = Field(
        default=30,
        ge=0,
        description="A token signed by a key not in the set refetches it (key rotation), at most this often.",
    )


class IntrospectionConfig(BaseModel):
    """RFC 7662 token introspection, for opaque (non-JWT) tokens."""

    model_config = ConfigDict(extra="forbid")

    url: str
    client_id: str
    client_secret: SecretStr
    send_secret_in_body: bool = False
    cache_seconds: float = Field(
        default=30, ge=0, description="An active answer is reused this long (never past the token's exp); 0: never."
    )


class OAuth2TokenConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["oauth2_token"] = "oauth2_token"
    audience: str = Field(default="llama-stack", description="The `aud` a token must carry.")
    issuer: str | None = Field(default=None, description="The `iss` a token must carry, if set.")
    claims_mapping: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CLAIMS_MAPPING),
        description="claim (dotted for nested claims) -> attribute (roles, teams, projects, namespaces, ...).",
    )
    jwks: JwksConfig | None = None
    shared_secret: SecretStr | None = Field(default=None, description="Verify HS256/384/512 tokens with this key.")
    introspection: IntrospectionConfig | None = None
    leeway_seconds: float = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    verify_tls: bool = True
    tls_cafile: Path | None = None
    cache_seconds: float = Field(
        default=60, ge=0, description="A verified JWT is remembered this long (never past its exp); 0: never."
    )

    @model_validator(mode="after")
    def _one_way_to_verify(self) -> OAuth2TokenConfig:
        if self.jwks is None and self.shared_secret is None and self.introspection is None:
            raise ValueError("oauth2_token needs jwks, shared_secret or introspection")
        if self.jwks is not None and self.shared_secret is not None:
            raise ValueError("oauth2_token: set jwks or shared_secret, not both")
        if self.shared_secret is not None and len(self.shared_secret.get_secret_value()) < 32:
            raise ValueError("oauth2_token.shared_secret must be at least 32 characters")
        return self


class AuthConfig(BaseModel):
    """``server.auth``: who may call the server. With it set, every route but ``public_paths`` needs a credential."""

    model_config = ConfigDict(extra="forbid")

    provider_config: OAuth2TokenConfig | None = None
    api_keys: list[ApiKey] = Field(default_factory=list)
    public_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PUBLIC_PATHS),
        description="Exact paths answered without credentials (upstream: health and version).",
    )
    access_policy: list[AccessRule] = Field(
        default_factory=list,
        description="Who may do what to which objects (see llama_stack_core.auth.policy); empty: the default rules "
        "(create anything; read, update and delete your own objects; read shared ones).",
    )

    @field_validator("provider_config", mode="before")
    @classmethod
    def _implemented_type(cls, value: Any) -> Any:
        kind = value.get("type") if isinstance(value, dict) else None
        if kind in UNIMPLEMENTED_TYPES:
            raise ValueError(f"type '{kind}' is not implemented by this server (use oauth2_token or api_keys)")
        return value

    @model_validator(mode="after")
    def _something_to_check(self) -> AuthConfig:
        if self.provider_config is None and not self.api_keys:
            raise ValueError("server.auth needs provider_config or api_keys (else no request could pass)")
        hashes = [k.key_hash for k in self.api_keys]
        if len(hashes) != len(set(hashes)):
            raise ValueError("server.auth.api_keys: the same key is listed twice")
        return self
