"""llama-stack-provider-sqlite-vec: ``inline::sqlite-vec``, the embedded default vector store: chunks, sqlite-vec
vectors (cosine) and an FTS5 keyword index in one SQLite file, under the shared VectorIO engine."""

__version__ = "0.1.0"
