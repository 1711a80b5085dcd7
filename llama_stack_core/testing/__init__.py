"""The provider conformance kit: shared test classes a provider package subclasses, plus harness helpers."""

from .harness import make_run_config, served_stack, stack_client

__all__ = ["make_run_config", "served_stack", "stack_client"]
