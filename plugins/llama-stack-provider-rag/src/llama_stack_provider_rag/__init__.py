"""llama-stack-provider-rag: ``inline::rag-runtime``, the ``builtin::rag`` tool group (search and insert over the
stack's vector stores) and the RAG tool's ``/v1/tool-runtime/rag-tool`` insert and query."""

__version__ = "0.1.0"
