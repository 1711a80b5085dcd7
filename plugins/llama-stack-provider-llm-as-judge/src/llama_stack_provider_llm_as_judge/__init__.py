"""llama-stack-provider-llm-as-judge: ``inline::llm-as-judge``, scoring functions that ask a judge model (any model
the stack serves) for a verdict per row."""

__version__ = "0.1.0"
