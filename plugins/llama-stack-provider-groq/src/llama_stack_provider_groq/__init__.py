"""llama-stack-provider-groq: ``remote::groq``, Groq's OpenAI-compatible chat completions API."""

__version__ = "0.1.0"
