"""llama-stack-provider-bedrock: ``remote::bedrock``, Amazon Bedrock's OpenAI-compatible Chat Completions endpoint as
a Llama Stack inference provider."""

__version__ = "0.1.0"
