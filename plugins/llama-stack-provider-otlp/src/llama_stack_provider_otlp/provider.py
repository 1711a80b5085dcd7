"""``remote::otlp``: the stack's spans and token-usage metrics, exported over OTLP/HTTP with the OpenTelemetry SDK.

- Spans: the stack's :class:`~llama_stack_core.tracing.SpanRecord` batches become SDK ``ReadableSpan`` objects with
  the same trace and span ids, parent links, timestamps, attributes and status, and go to ``<endpoint>/v1/traces``.
- Metrics, derived from the provider-call spans (those with ``api`` and ``provider.id`` attributes): token counters
  by model and a call-duration histogram by API and operation, exported every ``metrics_export_interval`` seconds to
  ``<endpoint>/v1/metrics`` by the SDK's periodic reader (its own thread; cumulative temporality).
- ``log_event``: unstructured log events become OTLP log records (``/v1/logs``) linked to their trace and span;
  metric events are recorded as histograms named after the metric; ``span_start``/``span_end`` pairs become spans
  with the client's ids.
- Queries (traces, spans, metrics) answer 501: query the backend the collector feeds.

The SDK exporters are synchronous: every span export runs on one dedicated thread, awaited by the stack's background
span-export task, never on a request. When the collector cannot be reached the SDK retries within ``timeout``
seconds; after a failure span batches are dropped (and counted) for a back-off window that doubles up to a minute,
so a down collector costs a warning, never a failed or slowed request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from llama_stack_core import __version__ as core_version
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.telemetry import (
    LogEventRequest,
    MetricEvent,
    SpanEndPayload,
    SpanStartPayload,
    StructuredLogEvent,
    UnstructuredLogEvent,
)
from llama_stack_core.errors import BadRequestError
from llama_stack_core.token_usage import UsagePoint
from llama_stack_core.tracing import SpanRecord

from .config import PROVIDER_TYPE, OTLPConfig

log = logging.getLogger(__name__)

SCOPE_NAME = "llama_stack_core"
TOKEN_METRICS = {  # the tracer's token usage metric -> counter name
    "prompt_tokens": "llama_stack.tokens.prompt",
    "completion_tokens": "llama_stack.tokens.completion",
    "total_tokens": "llama_stack.tokens.total",
}
DURATION_METRIC = "llama_stack.request.duration"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
MAX_BACKOFF = 60.0
MAX_OPEN_SPANS = 10_000  # span_start events waiting for their span_end
MAX_EVENT_METRICS = 200  # distinct metric names that log_event may create
_INT64 = (-(2**63), 2**63 - 1)
_HEX = {32: re.compile(r"^[0-9a-f]{32}$"), 16: re.compile(r"^[0-9a-f]{16}$")}
_METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_./\-]{0,254}$")
_SEVERITY = {
    "verbose": ("TRACE", 1),
    "debug": ("DEBUG", 5),
    "info": ("INFO", 9),
    "warn": ("WARN", 13),
    "error": ("ERROR", 17),
    "critical": ("FATAL", 21),
}

# -- logging: the SDK exporters log a failed export as an error; for us a down collector is a warning ----------------

_SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


class _ErrorsAsWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_FILTER = _ErrorsAsWarnings()


def _install_log_filter() -> None:
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# -- conversion ----------------------------------------------------------------------------------------------------


def _attribute(value: Any) -> Any:
    """A value OTLP can carry: primitives and homogeneous lists of them as they are, anything else as text."""
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, list | tuple) and value:
        items = [_attribute(v) for v in value if v is not None]
        kinds = {type(v) for v in items}
        if len(kinds) == 1 and kinds <= {bool, str, float, int}:
            return tuple(items)
        return tuple(str(v) for v in items)
    if isinstance(value, dict):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def attributes_of(attributes: dict[str, Any] | None) -> dict[str, Any]:
    return {str(k): _attribute(v) for k, v in (attributes or {}).items() if v is not None and v != []}


def span_kind(record: SpanRecord) -> SpanKind:
    if "http.target" in record.attributes:
        return SpanKind.SERVER  # the request's root span
    if record.name == "http.client" or "http.url" in record.attributes:
        return SpanKind.CLIENT
    return SpanKind.INTERNAL


def to_readable_span(record: SpanRecord, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    """The SDK's view of a finished stack span, ids and parent link unchanged."""
    trace_id = int(record.trace_id, 16)
    flags = TraceFlags(TraceFlags.SAMPLED)
    context = SpanContext(trace_id, int(record.span_id, 16), is_remote=False, trace_flags=flags)
    kind = span_kind(record)
    parent = None
    if record.parent_span_id:
        # a root span's parent is the caller's span (an incoming traceparent): remote
        parent = SpanContext(
            trace_id, int(record.parent_span_id, 16), is_remote=kind is SpanKind.SERVER, trace_flags=flags
        )
    if record.status == "error":
        message = record.attributes.get("error.message")
        status = Status(StatusCode.ERROR, str(message) if message else None)
    else:
        status = Status(StatusCode.OK)
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes_of(record.attributes),
        kind=kind,
        status=status,
        start_time=record.start_ns,
        end_time=record.end_ns or record.start_ns,
        instrumentation_scope=scope,
    )


def _check_id(value: str, nbytes: int, field: str) -> str:
    value = value.lower()
    if not _HEX[nbytes * 2].match(value) or int(value, 16) == 0:
        raise BadRequestError(
            f"event.{field} must be {nbytes * 2} hex digits (W3C trace context), got {value!r}", param=f"event.{field}"
        )
    return value


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


# -- the provider --------------------------------------------------------------------------------------------------


class _MetricExporter(OTLPMetricExporter):
    """The SDK's OTLP/HTTP metric exporter, reporting failures once per outage as a warning."""

    def __init__(self, *args: Any, owner: OTLPTelemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self._owner._metrics_exported(result is MetricExportResult.SUCCESS)
        return result


class OTLPTelemetry:
    """An export-only telemetry provider: spans, metrics and log events to an OTLP/HTTP collector."""

    def __init__(self, config: OTLPConfig) -> None:
        _install_log_filter()
        self.config = config
        self.resource = Resource.create({**config.resource_attributes, SERVICE_NAME: config.service_name})
        self.scope = InstrumentationScope(SCOPE_NAME, core_version)
        self._headers = config.header_values()
        self._compression = Compression.Gzip if config.compression == "gzip" else Compression.NoCompression
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-export")
        self._lock = threading.Lock()
        # span export state (touched on the export thread)
        self._retry_at = 0.0
        self._failures = 0
        self._dropped = 0
        self.exported_spans = 0
        self.last_error: str | None = None
        self._metrics_failing = False
        self._span_exporter = (
            OTLPSpanExporter(
                endpoint=config.url("traces"),
                headers=self._headers,
                timeout=config.timeout,
                compression=self._compression,
            )
            if config.export_traces
            else None
        )
        self._meter_provider: MeterProvider | None = None
        self._event_metrics: dict[str, Any] = {}
        if config.export_metrics:
            exporter = _MetricExporter(
                endpoint=config.url("metrics"),
                headers=self._headers,
                timeout=config.timeout,
                compression=self._compression,
                owner=self,
            )
            reader = PeriodicExportingMetricReader(
                exporter,
                export_interval_millis=config.metrics_export_interval * 1000,
                export_timeout_millis=config.timeout * 1000,
            )
            self._meter_provider = MeterProvider(
                resource=self.resource, metric_readers=[reader], shutdown_on_exit=False
            )
            self._meter = self._meter_provider.get_meter(SCOPE_NAME, core_version)
            self._token_counters = {
                metric: self._meter.create_counter(name, unit="{token}", description=f"{metric} by model")
                for metric, name in TOKEN_METRICS.items()
            }
            self._duration = self._meter.create_histogram(
                DURATION_METRIC,
                unit="s",
                description="Provider call duration by API and operation",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            )
        self._logger_provider: Any = None
        self._otel_logger: Any = None
        self._open_spans: OrderedDict[tuple[str, str], tuple[SpanStartPayload, int, dict[str, Any]]] = OrderedDict()
        self._closed = False

    # -- spans from the stack's tracer ----------------------------------------------------------------------------

    async def export_spans(self, spans: list[SpanRecord]) -> None:
        """Called by the stack's background span-export task; the work happens on the export thread."""
        if self._closed or not spans:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._export_batch, list(spans))

    async def export_usage(self, points: list[UsagePoint]) -> None:
        """Token usage of every inference call (sampled or not), per minute, from the stack's tracer."""
        if self._closed or self._meter_provider is None:
            return
        for point in points:
            counter = self._token_counters.get(point.metric)
            if counter is not None:
                counter.add(
                    int(point.value),
                    {
                        "model": point.labels.get("model") or "unknown",
                        "provider.id": point.labels.get("provider_id", ""),
                    },
                )

    def _export_batch(self, records: list[SpanRecord]) -> None:
        if self._meter_provider is not None:
            for record in records:
                try:
                    self._record_metrics(record)
                except Exception as exc:
                    log.debug("cannot record metrics of span %s: %s", record.name, exc)
        if self._span_exporter is not None:
            self._send([to_readable_span(r, self.resource, self.scope) for r in records])

    def _send(self, spans: Sequence[ReadableSpan]) -> None:
        """Export one batch (on the export thread), or drop it while the collector is backing off."""
        assert self._span_exporter is not None
        now = time.monotonic()
        if now < self._retry_at:
            self._dropped += len(spans)
            return
        try:
            ok = self._span_exporter.export(spans) is SpanExportResult.SUCCESS
            error = "the collector refused or did not answer"
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        if ok:
            if self._failures:
                log.warning(
                    "OTLP collector at %s is reachable again (%d spans were dropped while it was not)",
                    self.config.endpoint,
                    self._dropped,
                )
            self._failures, self._dropped, self._retry_at, self.last_error = 0, 0, 0.0, None
            self.exported_spans += len(spans)
            return
        self._failures += 1
        self._dropped += len(spans)
        backoff = min(MAX_BACKOFF, 2.0 ** (self._failures - 1))
        self._retry_at = time.monotonic() + backoff
        self.last_error = error
        log.warning(
            "could not export %d spans to the OTLP collector at %s (%s); dropping spans for %.0fs before "
            "trying again (requests are not affected)",
            len(spans),
            self.config.url("traces"),
            error,
            backoff,
        )

    def _record_metrics(self, record: SpanRecord) -> None:
        attrs = record.attributes
        api, provider_id = attrs.get("api"), attrs.get("provider.id")
        if not api or not provider_id:
            return  # only provider calls carry the API, the operation and the usage
        if record.end_ns is not None:
            operation = record.name.removeprefix(f"{api}.")
            self._duration.record(
                max(record.end_ns - record.start_ns, 0) / 1e9,
                {"api": str(api), "operation": operation, "provider.id": str(provider_id), "status": record.status},
            )

    def _metrics_exported(self, ok: bool) -> None:
        if ok and self._metrics_failing:
            log.warning("OTLP collector at %s accepts metrics again", self.config.endpoint)
        elif not ok and not self._metrics_failing:
            log.warning(
                "could not export metrics to the OTLP collector at %s; the SDK keeps them (cumulative) "
                "and tries again every %gs",
                self.config.url("metrics"),
                self.config.metrics_export_interval,
            )
        self._metrics_failing = not ok

    # -- log_event ------------------------------------------------------------------------------------------------

    async def log_event(self, request: LogEventRequest) -> None:
        """Accept an event without waiting for the collector: logs and spans are exported in the background."""
        if self._closed:
            return
        event = request.event
        trace_id = _check_id(event.trace_id, 16, "trace_id")
        span_id = _check_id(event.span_id, 8, "span_id")
        if isinstance(event, UnstructuredLogEvent):
            self._emit_log(event, trace_id, span_id)
        elif isinstance(event, MetricEvent):
            self._record_metric_event(event)
        elif isinstance(event, StructuredLogEvent):
            self._structured(event, trace_id, span_id)

    def _emit_log(self, event: UnstructuredLogEvent, trace_id: str, span_id: str) -> None:
        if self._otel_logger is None:
            self._start_logs()
        text, number = _SEVERITY[event.severity]
        from opentelemetry._logs import SeverityNumber

        flags = TraceFlags(TraceFlags.SAMPLED)
        span = trace_api.NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), True, flags))
        self._otel_logger.emit(
            timestamp=_ns(event.timestamp),
            observed_timestamp=time.time_ns(),
            context=trace_api.set_span_in_context(span),
            severity_text=text,
            severity_number=SeverityNumber(number),
            body=event.message,
            attributes=attributes_of(event.attributes),
        )

    def _start_logs(self) -> None:
        """The log pipeline, built on first use: the SDK's batch processor exports on its own thread."""
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        with self._lock:
            if self._otel_logger is not None:
                return
            exporter = OTLPLogExporter(
                endpoint=self.config.url("logs"),
                headers=self._headers,
                timeout=self.config.timeout,
                compression=self._compression,
            )
            provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
            provider.add_log_record_processor(
                BatchLogRecordProcessor(
                    exporter, schedule_delay_millis=1000, export_timeout_millis=self.config.timeout * 1000
                )
            )
            self._logger_provider = provider
            self._otel_logger = provider.get_logger(SCOPE_NAME, core_version)

    def _record_metric_event(self, event: MetricEvent) -> None:
        if self._meter_provider is None:
            return
        if not _METRIC_NAME.match(event.metric):
            raise BadRequestError(
                f"event.metric '{event.metric}' is not a valid OpenTelemetry instrument name "
                "(a letter, then letters, digits, '_', '.', '/' or '-')",
                param="event.metric",
            )
        instrument = self._event_metrics.get(event.metric)
        if instrument is None:
            if len(self._event_metrics) >= MAX_EVENT_METRICS:
                raise BadRequestError(
                    f"too many distinct event metrics (at most {MAX_EVENT_METRICS})", param="event.metric"
                )
            instrument = self._meter.create_histogram(event.metric, unit=event.unit or "")
            self._event_metrics[event.metric] = instrument
        instrument.record(event.value, attributes_of(event.attributes))

    def _structured(self, event: StructuredLogEvent, trace_id: str, span_id: str) -> None:
        payload = event.payload
        key = (trace_id, span_id)
        if isinstance(payload, SpanStartPayload):
            if payload.parent_span_id:
                _check_id(payload.parent_span_id, 8, "payload.parent_span_id")
            self._open_spans[key] = (payload, _ns(event.timestamp), dict(event.attributes or {}))
            while len(self._open_spans) > MAX_OPEN_SPANS:
                self._open_spans.popitem(last=False)
            return
        assert isinstance(payload, SpanEndPayload)
        started = self._open_spans.pop(key, None)
        if started is None:
            log.debug("span_end for unknown span %s/%s ignored", trace_id, span_id)
            return
        start, start_ns, attributes = started
        attributes.update(event.attributes or {})
        record = SpanRecord(
            trace_id,
            span_id,
            start.parent_span_id.lower() if start.parent_span_id else None,
            start.name,
            start_ns,
            max(_ns(event.timestamp), start_ns),
            attributes,
            payload.status,
        )
        if self._span_exporter is not None:
            self._executor.submit(self._send_quietly, [to_readable_span(record, self.resource, self.scope)])

    def _send_quietly(self, spans: list[ReadableSpan]) -> None:
        try:
            self._send(spans)
        except Exception as exc:
            log.warning("could not export a client span: %s", exc)

    # -- queries: not this provider's job -------------------------------------------------------------------------

    def _export_only(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"{PROVIDER_TYPE} only exports telemetry to an OTLP collector; it cannot "
            f"{what}: query the tracing or metrics backend the collector feeds"
        )

    async def query_traces(self, request: Any) -> Any:
        raise self._export_only("query traces")

    async def get_trace(self, request: Any) -> Any:
        raise self._export_only("return traces")

    async def get_span(self, request: Any) -> Any:
        raise self._export_only("return spans")

    async def get_span_tree(self, request: Any) -> Any:
        raise self._export_only("return span trees")

    async def query_spans(self, request: Any) -> Any:
        raise self._export_only("query spans")

    async def save_spans_to_dataset(self, request: Any) -> Any:
        raise self._export_only("save spans to a dataset")

    async def query_metrics(self, request: Any) -> Any:
        raise self._export_only("query metrics")

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        if self.last_error is not None:
            return {"status": "Error", "message": f"the last span export failed: {self.last_error}"}
        if self._metrics_failing:
            return {"status": "Error", "message": "the last metric export failed"}
        return {"status": "OK"}

    async def shutdown(self) -> None:
        """Flush metrics and logs one last time (bounded by ``timeout``) and stop the SDK's threads."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._shutdown_sync)
        self._executor.shutdown(wait=False)

    def _shutdown_sync(self) -> None:
        timeout_ms = int(self.config.timeout * 1000)
        for name, close in (
            ("metrics", lambda: self._meter_provider and self._meter_provider.shutdown(timeout_ms)),
            ("logs", lambda: self._logger_provider and self._logger_provider.shutdown()),
            ("spans", lambda: self._span_exporter and self._span_exporter.shutdown()),
        ):
            try:
                close()
            except Exception as exc:
                log.warning("OTLP %s exporter did not shut down cleanly: %s", name, exc)


def create_provider(config: OTLPConfig, deps: dict[Api, Any]) -> OTLPTelemetry:
    return OTLPTelemetry(config)
