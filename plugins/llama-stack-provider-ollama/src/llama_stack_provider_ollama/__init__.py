"""llama-stack-provider-ollama: ``remote::ollama``, a local Ollama server as a Llama Stack inference provider."""

__version__ = "0.1.0"
