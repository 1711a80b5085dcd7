"""llama-stack-provider-cerebras: ``remote::cerebras``, Cerebras Inference's OpenAI-compatible API."""

__version__ = "0.1.0"
