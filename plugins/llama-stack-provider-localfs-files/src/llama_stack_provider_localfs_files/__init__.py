"""llama-stack-provider-localfs-files: ``inline::localfs``, the OpenAI-compatible Files API with file bytes in a
directory and metadata in the stack's key-value store (SQLite or PostgreSQL)."""

__version__ = "0.1.0"
