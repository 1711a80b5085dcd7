"""llama-stack-provider-llama-guard: ``inline::llama-guard``, Llama Guard 3 shields through the Inference API."""

__version__ = "0.1.0"
