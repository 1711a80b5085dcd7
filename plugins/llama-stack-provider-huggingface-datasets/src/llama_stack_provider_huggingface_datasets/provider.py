"""``remote::huggingface`` (datasetio): Hugging Face datasets read page by page, read-only.

A registered dataset names a repository, a config, a split (:mod:`.refs`). Its splits are loaded once by the
``datasets`` library on a worker thread (:mod:`.loading`) and kept in memory as memory-mapped Arrow tables, shared by
every dataset registered on the same repository, config, revision and data dir, until the last of them is
unregistered; concurrent requests for splits being loaded wait for that one load. Each page is sliced from Arrow
and turned into rows on a worker thread too, so a split of millions of rows never becomes a Python list.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from typing import Any

from llama_stack_core.apis.datasetio import AppendRowsRequest, IterRowsRequest, PaginatedRows
from llama_stack_core.apis.resources import Dataset, DataSource
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError, ConfigError, ResourceNotFoundError
from llama_stack_core.provider_contracts import ReadsDatasetSources, RegistersDatasets, UnregistersDatasets

from . import loading, refs
from .config import PROVIDER_TYPE, HuggingFaceDatasetsConfig
from .loading import Places, Split
from .refs import HFRef

SplitsKey = tuple[str, str | None, str | None, str | None]


@dataclass
class _Loaded:
    """A dataset's splits (a ``datasets.DatasetDict``), and the splits picked from it so far, by requested name."""

    splits: Any
    picked: dict[str | None, Split] = field(default_factory=dict)


class HuggingFaceDatasetIO(RegistersDatasets, UnregistersDatasets, ReadsDatasetSources):
    def __init__(self, config: HuggingFaceDatasetsConfig) -> None:
        self.config = config
        self.places = Places(
            local_roots=dict(config.local_roots),
            cache_dir=config.cache_dir,
            hub_cache_dir=config.hub_cache_dir,
            token=config.token.get_secret_value() if config.token is not None else None,
        )
        #: what each dataset this process was told about names, by the id requests carry
        self._refs: dict[str, HFRef] = {}
        self._splits: dict[SplitsKey, _Loaded] = {}
        self._loading: dict[SplitsKey, asyncio.Future[_Loaded]] = {}
        #: loads done (tests check that paging does not load again)
        self.loads = 0

    async def reads_dataset_source(self, source: DataSource) -> bool:
        return refs.reads(source)

    # -- registration --------------------------------------------------------------------------------------------

    async def register_dataset(self, dataset: Dataset) -> None:
        """Check the dataset can be read (its URI, the dataset, its config and split) by loading it. The dataset is
        remembered even when loading fails: at start-up (a cache not there yet) its reads keep answering why."""
        ref = refs.resolve(dataset)
        self._forget(self._refs.get(dataset.provider_resource_id or dataset.identifier), ref)
        self._refs[dataset.provider_resource_id or dataset.identifier] = ref
        await self._split(ref)

    async def unregister_dataset(self, dataset: Dataset) -> None:
        self._forget(self._refs.pop(dataset.provider_resource_id or dataset.identifier, None))

    def _forget(self, old: HFRef | None, new: HFRef | None = None) -> None:
        """Drop the splits ``old`` named once no dataset (nor ``new``, replacing it) names them."""
        if old is None or (new is not None and new.splits_key == old.splits_key):
            return
        if all(other is old or other.splits_key != old.splits_key for other in self._refs.values()):
            self._splits.pop(old.splits_key, None)

    # -- loading -------------------------------------------------------------------------------------------------

    async def _split(self, ref: HFRef) -> Split:
        loaded = await self._load(ref)
        split = loaded.picked.get(ref.split)
        if split is None:
            split = loaded.picked[ref.split] = loading.pick_split(loaded.splits, ref)
        return split

    async def _load(self, ref: HFRef) -> _Loaded:
        key = ref.splits_key
        loaded = self._splits.get(key)
        if loaded is not None:
            return loaded
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(self._load_now(ref))
            self._loading[key] = future
            future.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(future)  # a cancelled request does not cancel the load others wait for

    async def _load_now(self, ref: HFRef) -> _Loaded:
        return _Loaded(await asyncio.to_thread(loading.load_splits, ref, self.places))

    def _loaded(self, key: SplitsKey, future: asyncio.Future[_Loaded]) -> None:
        self._loading.pop(key, None)
        if future.cancelled() or future.exception() is not None:
            return  # failures are not kept: the next request tries again (the cache may be there by then)
        self.loads += 1
        if any(ref.splits_key == key for ref in self._refs.values()):
            self._splits[key] = future.result()

    # -- rows ----------------------------------------------------------------------------------------------------

    def _ref(self, dataset_id: str) -> HFRef:
        ref = self._refs.get(dataset_id)
        if ref is None:
            raise ResourceNotFoundError("Dataset", dataset_id)
        return ref

    async def iterrows(self, request: IterRowsRequest) -> PaginatedRows:
        """Rows ``start_index`` .. ``start_index + limit`` of the split, at most ``max_page_rows`` of them. A
        ``start_index`` at or past the end is an empty page (``has_more`` false)."""
        split = await self._split(self._ref(request.dataset_id))
        total = split.num_rows
        start = request.start_index or 0
        want = self.config.max_page_rows
        if request.limit is not None and request.limit != -1:
            want = min(want, request.limit)
        end = max(start, min(start + want, total))
        rows = await asyncio.to_thread(loading.read_rows, split, start, end) if end > start else []
        has_more = end < total
        return PaginatedRows.model_construct(
            data=rows, has_more=has_more, url=None, next_start_index=end if has_more else None
        )

    async def append_rows(self, request: AppendRowsRequest) -> None:
        """Refused: a Hugging Face dataset is read-only here."""
        ref = self._ref(request.dataset_id)
        raise BadRequestError(
            f"dataset '{request.dataset_id}' is the Hugging Face dataset '{ref.repo_id}', which {PROVIDER_TYPE} "
            "only reads: rows cannot be appended to it. Register its rows (or a copy of the data file) with a "
            "provider that stores rows, such as inline::localfs, and append there",
            param="dataset_id",
        )


async def create_provider(config: HuggingFaceDatasetsConfig, deps: dict[Api, Any]) -> HuggingFaceDatasetIO:
    try:
        datasets = await asyncio.to_thread(importlib.import_module, "datasets")
    except ImportError:
        raise ConfigError(
            f"{PROVIDER_TYPE} (datasetio) needs the `datasets` library: pip install 'datasets>=4.8'"
        ) from None
    if config.offline:
        datasets.config.HF_HUB_OFFLINE = True  # what HF_HUB_OFFLINE=1 sets when the library is imported
    datasets.disable_progress_bars()  # a server's log is no terminal
    return HuggingFaceDatasetIO(config)
