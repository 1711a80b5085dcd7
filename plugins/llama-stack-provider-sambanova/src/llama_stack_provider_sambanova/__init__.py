"""llama-stack-provider-sambanova: ``remote::sambanova``, SambaNova's OpenAI-compatible inference API."""

__version__ = "0.1.0"
