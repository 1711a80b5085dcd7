"""DatasetIO: read registered datasets page by page and append rows to them, routed by ``dataset_id``."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import ConfigDict, Field

from .common import PaginatedResponse, Request, StrictRequest
from .routes import Api, ApiSpec, ResourceRef, Route

# -- requests ----------------------------------------------------------------------------------------------------


class IterRowsRequest(StrictRequest):
    """Path ``dataset_id``; query ``start_index`` (0-based) and ``limit`` (None or -1 means all rows)."""

    dataset_id: str = Field(min_length=1)
    start_index: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=-1)


class AppendRowsRequest(Request):
    dataset_id: str = Field(min_length=1)
    rows: list[dict[str, Any]]


# -- responses ---------------------------------------------------------------------------------------------------


class PaginatedRows(PaginatedResponse[dict[str, Any]]):
    """One page of rows: ``{data, has_more, url}``, and ``next_start_index`` (the ``start_index`` of the next page,
    null after the last)."""

    model_config = ConfigDict(extra="allow")
    next_start_index: int | None = None


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class DatasetIOProvider(Protocol):
    """What a datasetio provider implements. ``request.dataset_id`` is already the provider's own dataset id."""

    async def iterrows(self, request: IterRowsRequest) -> PaginatedRows:
        """Return one page of a dataset's rows (appended rows after the source's), from ``start_index`` (default 0),
        at most ``limit`` of them (None or -1: all)."""
        ...

    async def append_rows(self, request: AppendRowsRequest) -> None:
        """Append rows to a dataset, all or none: a row that does not match the dataset's columns is a 422 naming
        the row and field (``UnprocessableError``), and nothing is appended."""
        ...


DATASET = ResourceRef("dataset_id", "dataset")

SPEC = ApiSpec(
    api=Api.datasetio,
    title="DatasetIO",
    protocol=DatasetIOProvider,
    description="Row access to registered datasets, federated across providers by dataset.",
    routes=(
        Route(
            "GET",
            "/v1beta/datasetio/iterrows/{dataset_id:path}",
            "iterrows",
            "Get a page of rows from a dataset.",
            IterRowsRequest,
            PaginatedRows,
            resource=DATASET,
            aliases=("/v1/datasetio/iterrows/{dataset_id:path}",),
        ),
        Route(
            "POST",
            "/v1beta/datasetio/append-rows/{dataset_id:path}",
            "append_rows",
            "Append rows to a dataset.",
            AppendRowsRequest,
            None,
            resource=DATASET,
            aliases=("/v1/datasetio/append-rows/{dataset_id:path}",),
        ),
    ),
)
