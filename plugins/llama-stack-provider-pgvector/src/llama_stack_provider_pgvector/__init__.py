"""llama-stack-provider-pgvector: ``remote::pgvector``, vector stores in PostgreSQL with the pgvector extension."""

__version__ = "0.1.0"
