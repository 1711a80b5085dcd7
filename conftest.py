"""Root conftest: shared session fixtures for the core's tests and every plugin's tests in this repo."""

import pytest

pytest_plugins = ["llama_stack_core.testing.fixtures"]

#: Seconds a test marked ``slow`` (it builds packages or starts servers that load models) may take, unless it says.
#: Every other test gets pytest-timeout's default from pyproject.toml.
SLOW_TEST_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


@pytest.fixture(autouse=True)
def _no_otel_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OTEL_TRACES_SAMPLER would change the sampling the tests expect (tests set it themselves)."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
