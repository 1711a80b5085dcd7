"""llama-stack-provider-basic-scoring: ``inline::basic``, scoring functions that need no model."""

__version__ = "0.1.0"
