"""llama-stack-provider-moderation: ``remote::moderation``, shields backed by an OpenAI-compatible moderation API."""

__version__ = "0.1.0"
