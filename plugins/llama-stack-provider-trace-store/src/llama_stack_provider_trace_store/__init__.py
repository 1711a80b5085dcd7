"""inline::trace-store: the Telemetry API for llama-stack-core, spans kept in SQL tables (SQLite or PostgreSQL)."""

__version__ = "0.1.0"
