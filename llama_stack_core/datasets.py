"""Reading a registered dataset's rows through the DatasetIO API, page by page: what score-batch and eval use."""

from __future__ import annotations

from typing import Any

from .apis.datasetio import IterRowsRequest, PaginatedRows
from .routing import ApiRouter

#: rows asked for per iterrows call
PAGE_ROWS = 1000


async def read_rows(datasetio: ApiRouter, dataset_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The dataset's rows in order, the first ``limit`` of them if given (a 404 for an unknown dataset)."""
    rows: list[dict[str, Any]] = []
    start = 0
    while limit is None or len(rows) < limit:
        want = PAGE_ROWS if limit is None else min(PAGE_ROWS, limit - len(rows))
        request = IterRowsRequest(dataset_id=dataset_id, start_index=start, limit=want)
        page = await datasetio.call_as("iterrows", request, PaginatedRows)
        rows.extend(page.data)
        if not page.has_more or not page.data:
            break
        start = page.next_start_index if page.next_start_index is not None else start + len(page.data)
    return rows
