"""llama-stack-provider-sentence-transformers: ``inline::sentence-transformers``, OpenAI-compatible embeddings from
local sentence-transformers models (all-MiniLM-L6-v2 by default), offline."""

__version__ = "0.1.0"
