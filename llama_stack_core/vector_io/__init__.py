"""Building blocks for vector_io providers: the index contract a backend implements, and the shared engine that
turns an index into the whole VectorIO API (OpenAI vector stores, files, ingestion, search)."""
