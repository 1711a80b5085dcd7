"""llama-stack-provider-huggingface-datasets: ``remote::huggingface``, the DatasetIO API over Hugging Face datasets
(``hf://datasets/<org>/<name>``) read with the ``datasets`` library from the Hub, its local caches, or local dataset
directories, page by page from Arrow."""

__version__ = "0.1.0"
