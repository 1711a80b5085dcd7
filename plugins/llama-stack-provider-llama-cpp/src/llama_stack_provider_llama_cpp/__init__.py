"""llama-stack-provider-llama-cpp: inline::llama-cpp, local text generation from GGUF models with llama-cpp-python."""
