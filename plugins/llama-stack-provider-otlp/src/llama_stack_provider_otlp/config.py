"""Configuration of ``remote::otlp``.

Imported by plugin.py, so it stays light: pydantic and the standard library only (no OpenTelemetry).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

PROVIDER_TYPE = "remote::otlp"
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_SERVICE_NAME = "llama-stack"


def parse_headers(value: str) -> dict[str, str]:
    """``key=value,key2=value2`` (the ``OTEL_EXPORTER_OTLP_HEADERS`` format, values URL-encoded) as a dict."""
    headers: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError("headers: expected 'name=value' pairs separated by commas")
        headers[unquote(name.strip())] = unquote(raw.strip())
    return headers


class OTLPConfig(BaseModel):
    """Where and how to send spans and metrics."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(
        default_factory=lambda: os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT,
        validate_default=True,
        description="Base URL of the collector's OTLP/HTTP receiver; traces go to <endpoint>/v1/traces, metrics to "
        "<endpoint>/v1/metrics, log events to <endpoint>/v1/logs.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HTTP headers sent with every export (e.g. authorization). A mapping, or a string in the "
        "OTEL_EXPORTER_OTLP_HEADERS format 'name=value,name2=value2'. Values are secrets: never shown.",
    )
    service_name: str = Field(
        default_factory=lambda: os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME,
        min_length=1,
        description="The service.name resource attribute of everything exported.",
    )
    resource_attributes: dict[str, str] = Field(
        default_factory=dict, description="More resource attributes (e.g. deployment.environment)."
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds one export may take, retries included.")
    metrics_export_interval: float = Field(
        default=60.0, ge=0.1, le=86400, description="Seconds between metric exports."
    )
    compression: Literal["none", "gzip"] = Field(default="none", description="Compression of the export bodies.")
    export_traces: bool = Field(default=True, description="Export spans (false: metrics only).")
    export_metrics: bool = Field(default=True, description="Export token-usage and duration metrics.")

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL such as {DEFAULT_ENDPOINT}")
        if re.search(r"/v1/(traces|metrics|logs)$", value):
            raise ValueError("endpoint is the collector's base URL (without /v1/traces or /v1/metrics)")
        return value

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_from_string(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, str):
            return parse_headers(value)
        return value

    def url(self, signal: Literal["traces", "metrics", "logs"]) -> str:
        return f"{self.endpoint}/v1/{signal}"

    def header_values(self) -> dict[str, str]:
        return {name: secret.get_secret_value() for name, secret in self.headers.items()}

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "endpoint": f"${{env.OTEL_EXPORTER_OTLP_ENDPOINT:={DEFAULT_ENDPOINT}}}",
            "headers": "${env.OTEL_EXPORTER_OTLP_HEADERS:=}",
            "service_name": f"${{env.OTEL_SERVICE_NAME:={DEFAULT_SERVICE_NAME}}}",
        }
