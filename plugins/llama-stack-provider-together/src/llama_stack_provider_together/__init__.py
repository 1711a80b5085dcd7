"""llama-stack-provider-together: ``remote::together``, Together AI's OpenAI-compatible inference API."""

__version__ = "0.1.0"
