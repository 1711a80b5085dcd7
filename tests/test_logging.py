"""Structured logs: JSON lines off a terminal, the trace id on every record inside a request, secrets masked."""

from __future__ import annotations

import io
import json
import logging

from llama_stack_core.log_config import JSONFormatter, SecretMaskFilter, mask_secrets
from llama_stack_core.tracing import TraceIdFilter, Tracer, activate


def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(TraceIdFilter())
    handler.addFilter(SecretMaskFilter())
    logger = logging.getLogger("test.structured")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_lines_carry_the_trace_id_inside_a_span():
    logger, stream = capture()
    logger.info("outside")
    span = Tracer([]).request_span("GET", "/v1/models", None)
    with activate(span):
        logger.warning("inside %s", "request")
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["message"] == "outside" and "trace_id" not in outside
    assert inside == {
        **inside,
        "level": "warning",
        "message": "inside request",
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "logger": "test.structured",
    }


def test_secrets_are_masked_in_messages_and_tracebacks():
    logger, stream = capture()
    logger.error("upstream refused Authorization: Bearer sk-live-1234567890 for api_key=abcdef123456")
    try:
        raise ValueError("password: hunter2hunter2")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert "sk-live-1234567890" not in text and "abcdef123456" not in text and "hunter2hunter2" not in text
    assert text.count("********") >= 3
    assert mask_secrets("keyword_weight=0.5") == "keyword_weight=0.5"


def test_requests_that_are_not_recorded_still_log_their_trace_id():
    from llama_stack_core.trace_sampling import Sampler
    from llama_stack_core.tracing import CURRENT

    logger, stream = capture()
    span = Tracer([object()], sampler=Sampler(0.0)).request_span("POST", "/v1/chat/completions", None)
    assert not span.recording
    token = CURRENT.set(span)
    try:
        logger.info("unsampled")
    finally:
        CURRENT.reset(token)
    record = json.loads(stream.getvalue())
    assert record["trace_id"] == span.trace_id and len(span.trace_id) == 32 and record["span_id"] == span.span_id
