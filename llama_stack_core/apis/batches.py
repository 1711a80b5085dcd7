"""Batches: the OpenAI Batches API, which runs a JSONL file of requests against one endpoint in the background."""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import CursorPage, FileExpiresAfter, Request, StrictRequest
from .routes import Api, ApiSpec, Route

BatchStatus = Literal[
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
]


class BatchRequestCounts(BaseModel):
    completed: int = 0
    failed: int = 0
    total: int = 0


class BatchError(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str | None = None
    line: int | None = None
    message: str | None = None
    param: str | None = None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchError] = Field(default_factory=list)


class Batch(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    input_file_id: str
    completion_window: str
    status: BatchStatus
    created_at: int
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: BatchErrors | None = None
    request_counts: BatchRequestCounts | None = None
    metadata: dict[str, str] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None


class BatchCreateRequest(Request):
    input_file_id: str = Field(min_length=1)
    endpoint: str = Field(pattern=r"^/v1/")
    completion_window: Literal["24h"]
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    idempotency_key: str | None = Field(default=None, min_length=1)
    output_expires_after: FileExpiresAfter | None = None


class BatchListRequest(StrictRequest):
    after: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class BatchRef(StrictRequest):
    batch_id: str = Field(min_length=1)


@runtime_checkable
class BatchesProvider(Protocol):
    """What a batches provider implements."""

    async def create_batch(self, request: BatchCreateRequest) -> Batch:
        """Validate the input file and start a batch (idempotent when ``idempotency_key`` is set)."""

    async def list_batches(self, request: BatchListRequest) -> CursorPage[Batch]:
        """List batches, newest first."""

    async def retrieve_batch(self, request: BatchRef) -> Batch:
        """Get a batch."""

    async def cancel_batch(self, request: BatchRef) -> Batch:
        """Cancel a running batch."""


SPEC = ApiSpec(
    api=Api.batches,
    title="Batches",
    protocol=BatchesProvider,
    description="OpenAI-compatible batch processing of JSONL request files.",
    routes=(
        Route("POST", "/v1/batches", "create_batch", "Create a batch.", BatchCreateRequest, Batch),
        Route("GET", "/v1/batches", "list_batches", "List batches.", BatchListRequest, CursorPage[Batch]),
        Route("GET", "/v1/batches/{batch_id}", "retrieve_batch", "Get a batch.", BatchRef, Batch),
        Route("POST", "/v1/batches/{batch_id}/cancel", "cancel_batch", "Cancel a batch.", BatchRef, Batch),
    ),
)
