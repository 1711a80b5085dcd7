"""llama-stack-provider-vllm: ``remote::vllm``, a vLLM OpenAI-compatible server as a Llama Stack inference provider."""

__version__ = "0.1.0"
