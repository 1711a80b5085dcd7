"""llama-stack-provider-otlp: ``remote::otlp``, exports the stack's request spans and token-usage metrics to an
OpenTelemetry collector over OTLP/HTTP (protobuf)."""

__version__ = "0.1.0"
