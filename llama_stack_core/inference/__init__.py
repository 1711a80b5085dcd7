"""Building blocks for inference providers (the OpenAI-compatible adapter)."""
