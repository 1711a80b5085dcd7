"""llama-stack-provider-fireworks: ``remote::fireworks``, Fireworks AI's OpenAI-compatible inference API."""

__version__ = "0.1.0"
