"""Schemathesis over the whole API (issue 19): every operation of ``/openapi.json``, on a stack serving every API with
cheap real providers (tests/support/fuzz_stack.py), in this process over ASGI. Zero 5xx, and every answer as the
document declares it (status, content type, body; SSE events included); a request the document declares valid is
never refused as invalid. Bounded for CI: the coverage phase (the document's boundary and type cases, deterministic)
and a few fuzzed cases per operation, a fixed seed, a time budget. ``bench/fuzz.py`` is the longer run.

What stays out, each with its reason, is in ``fuzz_stack.ALLOWANCES``; ``negative_data_rejection`` is not run here
(bench/README.md: pydantic's lax mode takes ``false`` for 0 in a JSON body, and a query's or a multipart form's
values are text, so schemathesis' wrong-type cases of them are still valid text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fuzz_stack import every_api_config, run_schemathesis, schemathesis_config

from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.server.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SEED = 19
#: Fuzzed cases per operation and generation mode (valid / invalid), after the coverage phase's.
MAX_EXAMPLES = 8
#: The run stops here (and the test fails: operations went untested); it takes about 60 s on 2 cores.
BUDGET_SECONDS = 150


def test_every_operation_answers_as_the_document_says(tmp_path: Path, pm: Any) -> None:
    app = create_app(parse_run_config(every_api_config(tmp_path)), pm)
    config = schemathesis_config(seed=SEED, max_examples=MAX_EXAMPLES)
    report = run_schemathesis(app, config, budget_seconds=BUDGET_SECONDS)
    print(f"{len(report.operations)} operations, {sum(report.cases.values())} cases, {report.seconds:.0f} s")
    assert not report.errors, "\n".join(report.errors)
    assert not report.cut_short, f"the run reached its {BUDGET_SECONDS} s budget; untested: {report.untested()}"
    assert not report.untested(), report.untested()
    failures = "\n\n".join(failure.describe() for failure in report.failures.values())
    assert not report.failures, f"{len(report.failures)} distinct failures:\n\n{failures}"
