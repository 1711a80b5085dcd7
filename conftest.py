"""Root conftest: shared session fixtures for the core's tests and every plugin's tests in this repo."""

pytest_plugins = ["llama_stack_core.testing.fixtures"]
