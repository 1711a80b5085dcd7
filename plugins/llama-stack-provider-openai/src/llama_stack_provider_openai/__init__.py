"""llama-stack-provider-openai: ``remote::openai``, the OpenAI API."""

__version__ = "0.1.0"
