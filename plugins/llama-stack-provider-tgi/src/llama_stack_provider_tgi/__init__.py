"""llama-stack-provider-tgi: ``remote::tgi``, Hugging Face Text Generation Inference as a Llama Stack inference
provider."""

__version__ = "0.1.0"
