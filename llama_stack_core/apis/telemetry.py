"""Telemetry (older upstream API): log events, query the traces and spans they form, export spans, query metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import DataList, Request, StrictRequest
from .routes import Api, ApiSpec, Route

Primitive = str | int | float | bool | None
SpanStatus = Literal["ok", "error"]

# -- traces and spans --------------------------------------------------------------------------------------------


class Span(BaseModel):
    model_config = ConfigDict(extra="allow")
    span_id: str
    trace_id: str
    parent_span_id: str | None = None
    name: str
    start_time: datetime
    end_time: datetime | None = None
    attributes: dict[str, Any] | None = Field(default_factory=dict)


class SpanWithStatus(Span):
    status: SpanStatus | None = None


class Trace(BaseModel):
    model_config = ConfigDict(extra="allow")
    trace_id: str
    root_span_id: str
    start_time: datetime
    end_time: datetime | None = None


class SpanTree(BaseModel):
    """``{"data": {span_id: SpanWithStatus}}``."""

    data: dict[str, SpanWithStatus]


# -- events ------------------------------------------------------------------------------------------------------


class EventCommon(BaseModel):
    trace_id: str
    span_id: str
    timestamp: datetime
    attributes: dict[str, Primitive] | None = Field(default_factory=dict)


class UnstructuredLogEvent(EventCommon):
    type: Literal["unstructured_log"] = "unstructured_log"
    message: str
    severity: Literal["verbose", "debug", "info", "warn", "error", "critical"]


class MetricEvent(EventCommon):
    type: Literal["metric"] = "metric"
    metric: str = Field(min_length=1)
    value: int | float
    unit: str


class SpanStartPayload(BaseModel):
    type: Literal["span_start"] = "span_start"
    name: str
    parent_span_id: str | None = None


class SpanEndPayload(BaseModel):
    type: Literal["span_end"] = "span_end"
    status: SpanStatus


StructuredLogPayload = Annotated[SpanStartPayload | SpanEndPayload, Field(discriminator="type")]


class StructuredLogEvent(EventCommon):
    type: Literal["structured_log"] = "structured_log"
    payload: StructuredLogPayload


Event = Annotated[UnstructuredLogEvent | MetricEvent | StructuredLogEvent, Field(discriminator="type")]

# -- metrics -----------------------------------------------------------------------------------------------------


class MetricLabelMatcher(BaseModel):
    name: str
    value: str
    operator: Literal["=", "!=", "=~", "!~"] = "="


class MetricLabel(BaseModel):
    name: str
    value: str


class MetricDataPoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    timestamp: int = Field(description="Unix time in seconds.")
    value: float
    unit: str | None = None


class MetricSeries(BaseModel):
    model_config = ConfigDict(extra="allow")
    metric: str
    labels: list[MetricLabel]
    values: list[MetricDataPoint]


# -- requests ----------------------------------------------------------------------------------------------------


class QueryCondition(BaseModel):
    key: str = Field(pattern=r"^[^\x00]*$", description="An attribute key (no NUL characters: no store holds them).")
    op: Literal["eq", "ne", "gt", "lt"]
    value: Any


#: The latest Unix time (seconds) a store can keep in nanoseconds in a 64-bit integer (April 2262).
LATEST_UNIX_SECONDS = (2**63 - 1) // 1_000_000_000
#: The longest an event may be kept: a century.
MAX_TTL_SECONDS = 100 * 365 * 86400
#: The largest offset a SQL store takes (a signed 64-bit integer).
MAX_OFFSET = 2**63 - 1


class LogEventRequest(Request):
    event: Event
    ttl_seconds: int = Field(default=7 * 86400, ge=0, le=MAX_TTL_SECONDS)


class QueryTracesRequest(Request):
    attribute_filters: list[QueryCondition] | None = None
    limit: int | None = Field(default=100, ge=1, le=10000)
    offset: int | None = Field(default=0, ge=0, le=MAX_OFFSET)
    order_by: list[str] | None = None


class GetTraceRequest(StrictRequest):
    trace_id: str = Field(min_length=1)


class GetSpanRequest(StrictRequest):
    trace_id: str = Field(min_length=1)
    span_id: str = Field(min_length=1)


class GetSpanTreeRequest(Request):
    span_id: str = Field(min_length=1)
    attributes_to_return: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=0)


class QuerySpansRequest(Request):
    attribute_filters: list[QueryCondition]
    attributes_to_return: list[str]
    max_depth: int | None = Field(default=None, ge=0)


class SaveSpansToDatasetRequest(Request):
    attribute_filters: list[QueryCondition]
    attributes_to_save: list[str] = Field(min_length=1)
    dataset_id: str = Field(min_length=1)
    max_depth: int | None = Field(default=None, ge=0)


class QueryMetricsRequest(Request):
    metric_name: str = Field(min_length=1)
    start_time: int = Field(ge=0, le=LATEST_UNIX_SECONDS, description="Unix time in seconds.")
    end_time: int | None = Field(default=None, ge=0, le=LATEST_UNIX_SECONDS)
    granularity: str | None = Field(default="1d", description="Bucket size such as 1m, 1h or 1d.")
    query_type: Literal["range", "instant"] = "range"
    label_matchers: list[MetricLabelMatcher] | None = None


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class TelemetryProvider(Protocol):
    """What a telemetry provider implements: an event sink that can also answer queries over what it stored."""

    async def log_event(self, request: LogEventRequest) -> None:
        """Record an event."""
        ...

    async def query_traces(self, request: QueryTracesRequest) -> DataList[Trace]:
        """List traces matching the filters."""
        ...

    async def get_trace(self, request: GetTraceRequest) -> Trace:
        """Return one trace."""
        ...

    async def get_span(self, request: GetSpanRequest) -> Span:
        """Return one span of a trace."""
        ...

    async def get_span_tree(self, request: GetSpanTreeRequest) -> SpanTree:
        """Return a span and its descendants, keyed by span id."""
        ...

    async def query_spans(self, request: QuerySpansRequest) -> DataList[Span]:
        """List spans matching the filters."""
        ...

    async def save_spans_to_dataset(self, request: SaveSpansToDatasetRequest) -> None:
        """Append the selected attributes of matching spans to a dataset."""
        ...

    async def query_metrics(self, request: QueryMetricsRequest) -> DataList[MetricSeries]:
        """Return the series of one metric over a time range or at an instant."""
        ...


SPEC = ApiSpec(
    api=Api.telemetry,
    title="Telemetry",
    protocol=TelemetryProvider,
    description="Event logging and trace, span and metric queries (removed upstream after 0.2; kept for old clients).",
    routes=(
        Route("POST", "/v1/telemetry/events", "log_event", "Log an event.", LogEventRequest, None),
        Route("POST", "/v1/telemetry/traces", "query_traces", "Query traces.", QueryTracesRequest, DataList[Trace]),
        Route("GET", "/v1/telemetry/traces/{trace_id}", "get_trace", "Get a trace.", GetTraceRequest, Trace),
        Route(
            "GET", "/v1/telemetry/traces/{trace_id}/spans/{span_id}", "get_span", "Get a span.", GetSpanRequest, Span
        ),
        Route(
            "POST",
            "/v1/telemetry/spans/{span_id}/tree",
            "get_span_tree",
            "Get a span tree.",
            GetSpanTreeRequest,
            SpanTree,
        ),
        Route("POST", "/v1/telemetry/spans", "query_spans", "Query spans.", QuerySpansRequest, DataList[Span]),
        Route(
            "POST",
            "/v1/telemetry/spans/export",
            "save_spans_to_dataset",
            "Save spans to a dataset.",
            SaveSpansToDatasetRequest,
            None,
        ),
        Route(
            "POST",
            "/v1/telemetry/metrics/{metric_name}",
            "query_metrics",
            "Query a metric.",
            QueryMetricsRequest,
            DataList[MetricSeries],
        ),
    ),
)
