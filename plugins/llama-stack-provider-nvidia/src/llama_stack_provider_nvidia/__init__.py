"""llama-stack-provider-nvidia: ``remote::nvidia``, NVIDIA NIM as a Llama Stack inference provider."""

__version__ = "0.1.0"
