"""llama-stack-provider-localfs-datasets: ``inline::localfs``, the DatasetIO API over inline rows, local files and
Files API uploads (CSV, JSONL, JSON, Parquet), with appended rows kept in the stack's key-value store."""

__version__ = "0.1.0"
