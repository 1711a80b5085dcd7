"""Root conftest: shared session fixtures for the core's tests and every plugin's tests in this repo."""

import pytest

pytest_plugins = ["llama_stack_core.testing.fixtures"]


@pytest.fixture(autouse=True)
def _no_otel_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OTEL_TRACES_SAMPLER would change the sampling the tests expect (tests set it themselves)."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
