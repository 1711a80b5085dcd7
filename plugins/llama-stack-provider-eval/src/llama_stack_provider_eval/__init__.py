"""llama-stack-provider-eval: ``inline::builtin`` eval, benchmark jobs generated through Inference and scored through
Scoring."""

__version__ = "0.1.0"
