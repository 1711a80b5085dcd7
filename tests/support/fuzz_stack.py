"""Schemathesis against a stack serving every API with cheap real providers, in this process (ASGI, no sockets).

Shared by ``tests/test_fuzz.py`` (bounded, in CI) and ``bench/fuzz.py`` (longer): the run config, the schemathesis
configuration and a summary of the run (cases and failures per check, each distinct failure once).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack_test_plugin import echo_providers

from llama_stack_core.testing.harness import make_run_config

#: Checks every response must pass: no 5xx; status, content type and body as the document declares; and a request the
#: document declares valid is not refused as invalid (a 422).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
)

#: What each check accepts beyond schemathesis' defaults, and why (path regex, check, statuses, reason).
ALLOWANCES = (
    (
        ".",
        "positive_data_acceptance",
        ("400",),
        "a refusal for what the document cannot state: an unknown cursor or referenced id, a model of the wrong type, "
        "a rule between two fields, the provider's own limits",
    ),
    ("/batches", "not_a_server_error", ("501",), "Batches has no provider in this repo: its operations answer 501"),
    (
        "/append-rows/",
        "positive_data_acceptance",
        ("400", "422"),
        "a row's columns are checked against the dataset's own (422 naming rows[i].column), which no document lists",
    ),
)

EMBEDDING_MODEL = "echo-default-embedding"
ROWS = [{"input_query": "Say a", "expected_answer": "a", "generated_answer": "a", "chat_completion_input": "[]"}]

#: The resources the run config registers, by name: the generator draws ids from these half of the time, so requests
#: get past the 404 of an unknown id into the providers.
KNOWN_IDS = {
    "models": ["chat", EMBEDDING_MODEL],
    "shields": ["rules"],
    "vector_stores": ["kb"],
    "datasets": ["qa"],
    "benchmarks": ["bench"],
    "scoring_functions": ["basic::equality", "basic::subset_of"],
}
BINDINGS = {
    "models": ["model", "model_id", "body.model", "body.model_id", "body.embedding_model"],
    "shields": ["shield_id", "body.shield_id"],
    "vector_stores": ["vector_store_id", "vector_db_id", "body.vector_db_id", "body.vector_store_id"],
    "datasets": ["dataset_id", "body.dataset_id"],
    "benchmarks": ["benchmark_id", "body.benchmark_id"],
    "scoring_functions": ["scoring_fn_id", "body.scoring_fn_id"],
}


def every_api_config(directory: Path) -> dict[str, Any]:
    """A run config serving every API but Batches with inline providers that need no model, network or account."""

    def one(api: str, provider_type: str, **config: Any) -> list[dict[str, Any]]:
        return [{"provider_id": api.replace("_", "-"), "provider_type": provider_type, "config": config}]

    providers = {
        "inference": echo_providers("echo", completions=True),
        "safety": one("safety", "inline::rule-shield"),
        "files": one("files", "inline::localfs", storage_dir=str(directory / "files")),
        "vector_io": one("vector_io", "inline::sqlite-vec", db_path=str(directory / "vectors.db")),
        "tool_runtime": [
            *one("rag", "inline::rag-runtime"),
            *one("mcp", "remote::model-context-protocol"),
        ],
        "datasetio": one("datasetio", "inline::localfs"),
        "scoring": one("scoring", "inline::basic"),
        "eval": one("eval", "inline::builtin"),
        "responses": one("responses", "inline::builtin"),
        "conversations": one("conversations", "inline::builtin"),
        "agents": one("agents", "inline::builtin"),
        "telemetry": one("telemetry", "inline::trace-store"),
    }
    return make_run_config(
        providers,
        directory,
        models=[{"model_id": "chat", "provider_id": "echo", "model_type": "llm"}],
        shields=[{"shield_id": "rules", "provider_id": "safety"}],
        vector_dbs=[{"vector_db_id": "kb", "embedding_model": EMBEDDING_MODEL, "embedding_dimension": 8}],
        datasets=[{"dataset_id": "qa", "purpose": "eval/question-answer", "source": {"type": "rows", "rows": ROWS}}],
        benchmarks=[{"benchmark_id": "bench", "dataset_id": "qa", "scoring_functions": ["basic::equality"]}],
    )


def schemathesis_config(
    *,
    seed: int,
    max_examples: int,
    max_time: int | None = None,
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing"),
    checks: tuple[str, ...] = CHECKS,
) -> Any:
    """A schemathesis configuration: these phases and checks, ``max_examples`` per operation, a fixed seed (the same
    cases each run), no example database, stop after ``max_time`` seconds."""
    from schemathesis.config import SchemathesisConfig

    data: dict[str, Any] = {
        "seed": seed,
        "color": False,
        "suppress-health-check": ["all"],
        "generation": {"max-examples": max_examples, "database": "none", "deterministic": True},
        "phases": {name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing", "stateful")},
        "checks": _checks(checks, "."),
        "dictionaries": {name: {"values": values} for name, values in KNOWN_IDS.items()},
        "parameters": {
            key: {"dictionary": name, "probability": 0.5} for name, keys in BINDINGS.items() for key in keys
        },
        "request-timeout": 30,
        "continue-on-failure": True,
        "operations": [
            {"include-path-regex": path, "checks": _checks(checks, path)} for path in {a[0] for a in ALLOWANCES} - {"."}
        ],
    }
    if max_time is not None:
        data["max-time"] = max_time
    return SchemathesisConfig.from_dict(data)


#: schemathesis' own expected statuses for the checks that take some.
DEFAULT_STATUSES = {
    "not_a_server_error": ("2xx", "3xx", "4xx"),
    "positive_data_acceptance": ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx"),
}


def _checks(checks: tuple[str, ...], path: str) -> dict[str, Any]:
    """The checks section for operations matching ``path`` (``.``: every operation): each check's default statuses
    plus the allowances for that path and for every operation."""
    section: dict[str, Any] = {"enabled": False}
    for name in checks:
        section[name] = {"enabled": True}
        extra = [
            s for where, check, statuses, _ in ALLOWANCES if check == name and where in (".", path) for s in statuses
        ]
        if extra:
            section[name]["expected-statuses"] = sorted({*DEFAULT_STATUSES[name], *extra})
    return section


@dataclass
class FailureRecord:
    """One distinct failure: which operation, which check, what it said, and a request reproducing it."""

    operation: str
    check: str
    title: str
    message: str
    request: str
    status: int | None
    answer: str

    def describe(self) -> str:
        return (
            f"{self.operation} [{self.check}] {self.title}: {self.message.strip()[:800]}\n"
            f"    request: {self.request}\n    answer: {self.status} {self.answer}"
        )


@dataclass
class FuzzReport:
    documented: set[str] = field(default_factory=set)  # "METHOD /path" of every operation in the document
    operations: set[str] = field(default_factory=set)  # those a case was generated for
    cases: Counter[str] = field(default_factory=Counter)  # by phase
    checks_run: Counter[str] = field(default_factory=Counter)
    checks_failed: Counter[str] = field(default_factory=Counter)
    failures: dict[tuple[str, str, str], FailureRecord] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stop_reason: str = ""
    phase_started: dict[str, float] = field(default_factory=dict)
    phase_seconds: Counter[str] = field(default_factory=Counter)
    cut_short: bool = False
    elapsed: Counter[str] = field(default_factory=Counter)  # seconds by operation
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status)

    def untested(self) -> list[str]:
        """Operations of the document no case was generated for."""
        return sorted(self.documented - self.operations)

    def summary_rows(self) -> list[tuple[str, int, int]]:
        """(check, responses checked, failed) for each check that ran."""
        return [(name, self.checks_run[name], self.checks_failed[name]) for name in sorted(self.checks_run)]


def run_schemathesis(app: Any, config: Any, *, budget_seconds: float | None = None) -> FuzzReport:
    """Run every enabled phase against the ASGI ``app`` (its lifespan started by schemathesis, stopped at the end) and
    collect the results; past ``budget_seconds`` the run stops (``report.cut_short``)."""
    import schemathesis
    from schemathesis.engine import from_schema
    from schemathesis.python import asgi

    report = FuzzReport()
    started = time.monotonic()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    paths = schema.raw_schema["paths"].items()
    # schemathesis leaves out the document's own route (fetched above to begin with)
    report.documented = {f"{m.upper()} {path}" for path, item in paths for m in item if path != "/openapi.json"}
    try:
        stream = from_schema(schema).execute()
        for event in stream:
            _handle(report, event)
            if budget_seconds is not None and not report.cut_short and time.monotonic() - started > budget_seconds:
                report.cut_short = True
                stream.stop()
    finally:
        asgi.shutdown_lifespans()  # the stack stops here, not at interpreter exit
    report.seconds = time.monotonic() - started
    return report


def _handle(report: FuzzReport, event: Any) -> None:
    from schemathesis.engine import events

    if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        _record(report, event)
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"{event.label}: {event.info.format()}")
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.PhaseStarted):
        report.phase_started[str(event.phase.name)] = time.monotonic()
    elif isinstance(event, events.PhaseFinished) and str(event.phase.name) in report.phase_started:
        name = str(event.phase.name)
        report.phase_seconds[name] += time.monotonic() - report.phase_started.pop(name)
    elif isinstance(event, events.EngineFinished):
        report.stop_reason = str(event.stop_reason)


def _record(report: FuzzReport, event: Any) -> None:
    recorder = event.recorder
    phase = str(getattr(event, "phase", "fuzz"))
    report.cases[phase] += len(recorder.cases)
    report.elapsed[recorder.label] += getattr(event, "elapsed_time", 0.0)
    for node in recorder.cases.values():
        operation = node.value.operation
        report.operations.add(f"{operation.method.upper()} {operation.path}")
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            report.statuses[(recorder.label, interaction.response.status_code)] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            report.checks_run[check.name] += 1
            if check.failure_info is None:
                continue
            report.checks_failed[check.name] += 1
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            status = response.status_code if response is not None else None
            title = f"{failure.title} ({status})" if check.name == "not_a_server_error" else failure.title
            key = (failure.operation or recorder.label, check.name, title)
            if key not in report.failures:
                report.failures[key] = FailureRecord(
                    operation=failure.operation or recorder.label,
                    check=check.name,
                    title=title,
                    message=failure.message,
                    request=_request_line(interaction.request) if interaction is not None else "",
                    status=status,
                    answer=response.content[:300].decode("utf-8", "replace") if response is not None else "",
                )


def _request_line(request: Any) -> str:
    body = (request.body or b"")[:600].decode("utf-8", "replace")
    return f"{request.method} {request.uri.removeprefix('http://testserver')} {body}".rstrip()
