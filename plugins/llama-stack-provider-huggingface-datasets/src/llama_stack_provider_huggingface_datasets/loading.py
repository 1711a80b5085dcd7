"""Loading a dataset's splits with the ``datasets`` library, and reading rows from a split. Blocking: the provider
calls these on a worker thread, never on the event loop.

Where a dataset comes from, in order:

1. ``local_roots``: a local dataset directory (data files, optionally a README.md with ``configs:``) or one data file.
2. ``load_dataset("hf://datasets/<org>/<name>")``: the Hub, or, offline or when the Hub cannot be reached, the
   ``datasets`` cache of an earlier load (prepared Arrow files under ``cache_dir``). The ``hf://datasets/`` prefix
   keeps the library from reading a local directory that happens to be named ``<org>/<name>`` under the server's
   working directory.
3. A snapshot of the dataset repository in the Hub's download cache (``hub_cache_dir``, what ``hf download
   --repo-type dataset`` fills), read as a local directory: when step 2 found nothing and the Hub was not asked.

The splits are memory-mapped Arrow tables; rows are taken from them one page at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from llama_stack_core.errors import BadRequestError, StackError, UpstreamError

from .refs import HFRef

T = TypeVar("T")
PARAM = "source.uri"
#: a data file named in ``local_roots`` -> the ``datasets`` builder that reads it, and its options
FILE_BUILDERS: dict[str, tuple[str, dict[str, Any]]] = {
    ".parquet": ("parquet", {}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
}


@dataclass(frozen=True)
class Places:
    """Where to look (the provider's config, resolved)."""

    local_roots: Mapping[str, str]
    cache_dir: str | None = None
    hub_cache_dir: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Split:
    """One split of a loaded dataset, formatted to give Arrow tables when sliced."""

    name: str
    table: Any  # datasets.Dataset with format "arrow"
    num_rows: int
    #: whether a column holds bytes (returned base64-encoded, JSON having no bytes)
    binary: bool


def offline() -> bool:
    """Whether the ``datasets`` library may not reach the Hub (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE, or the
    provider's ``offline``)."""
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


# -- loading -----------------------------------------------------------------------------------------------------


def load_splits(ref: HFRef, places: Places) -> Any:
    """The dataset's splits (a ``datasets.DatasetDict``) for ``ref``'s config, revision and data dir."""
    root = places.local_roots.get(ref.repo_id)
    if root is not None:
        return _local(Path(root), ref, places)
    import datasets

    def from_hub() -> Any:
        return datasets.load_dataset(
            f"hf://datasets/{ref.repo_id}",
            name=ref.name,
            revision=ref.revision,
            data_dir=ref.data_dir,
            cache_dir=places.cache_dir,
            token=places.token,
        )

    try:
        return from_hub()
    except (ConnectionError, FileNotFoundError, ValueError) as exc:
        # offline, every failure may be the cache's; online, only an unreachable Hub sends us to the snapshots
        if not (offline() or isinstance(exc, ConnectionError)) or _is_missing_on_hub(exc):
            raise _refusal(exc, ref) from None
        snapshot = _snapshot(ref, places)
        if snapshot is None:
            raise _refusal(exc, ref) from None
    except datasets.exceptions.DatasetsError as exc:
        raise _refusal(exc, ref) from None
    return _directory(snapshot, ref, places)


def _local(root: Path, ref: HFRef, places: Places) -> Any:
    if ref.revision is not None:
        raise BadRequestError(
            f"{PARAM}: {ref.described} is read from a local directory (local_roots), which has no revisions",
            param=PARAM,
        )
    if root.is_dir():
        return _directory(root, ref, places)
    if not root.is_file():
        raise BadRequestError(
            f"{PARAM}: {ref.described} is mapped to {root} (local_roots), which does not exist", param=PARAM
        )
    builder = FILE_BUILDERS.get(root.suffix.lower())
    if builder is None:
        raise BadRequestError(
            f"{PARAM}: {ref.described} is mapped to {root.name} (local_roots); files read: "
            f"{', '.join(FILE_BUILDERS)} (or a dataset directory)",
            param=PARAM,
        )
    if ref.name is not None or ref.data_dir is not None:
        raise BadRequestError(
            f"{PARAM}: {ref.described} is one data file (local_roots): it has no configs or data dirs", param=PARAM
        )
    import datasets

    kind, options = builder
    return _loading(
        ref, lambda: datasets.load_dataset(kind, data_files=str(root), cache_dir=places.cache_dir, **options)
    )


def _directory(path: Path, ref: HFRef, places: Places) -> Any:
    import datasets

    return _loading(
        ref,
        lambda: datasets.load_dataset(str(path), name=ref.name, data_dir=ref.data_dir, cache_dir=places.cache_dir),
    )


def _loading(ref: HFRef, load: Callable[[], T]) -> T:
    import datasets

    try:
        return load()
    except (ConnectionError, FileNotFoundError, ValueError, datasets.exceptions.DatasetsError) as exc:
        raise _refusal(exc, ref) from None


def _snapshot(ref: HFRef, places: Places) -> Path | None:
    """The dataset repository's snapshot in the Hub's download cache, if one is there (never asks the Hub)."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            ref.repo_id,
            repo_type="dataset",
            revision=ref.revision,
            cache_dir=places.hub_cache_dir,
            local_files_only=True,
        )
    except FileNotFoundError:  # LocalEntryNotFoundError: nothing cached for this repository or revision
        return None
    return Path(folder)


def _is_missing_on_hub(exc: Exception) -> bool:
    import datasets

    return isinstance(exc, datasets.exceptions.DatasetNotFoundError)


def _refusal(exc: Exception, ref: HFRef) -> StackError:
    """A failure of the ``datasets`` library as the answer to give: 400 for what the request names (no such dataset,
    config or files, nothing cached while offline, unreadable files), 502 when the Hub cannot be reached."""
    import datasets

    what = ref.described
    if isinstance(exc, ConnectionError):
        if offline():
            return BadRequestError(f"{PARAM}: {what} is not in the local caches, {_how_to_cache(ref)}", param=PARAM)
        return UpstreamError(f"could not reach the Hugging Face Hub for {what}, and it is not cached locally: {exc}")
    if isinstance(exc, datasets.exceptions.DatasetNotFoundError):
        return BadRequestError(f"{PARAM}: {what} was not found: {exc}", param=PARAM)
    if isinstance(exc, FileNotFoundError):
        return BadRequestError(f"{PARAM}: {what} has no data files this provider can read: {exc}", param=PARAM)
    return BadRequestError(f"{PARAM}: {what} cannot be loaded: {_first_line(exc)}", param=PARAM)


def _how_to_cache(ref: HFRef) -> str:
    config = f", name='{ref.name}'" if ref.name else ""
    return (
        "and the Hugging Face Hub is not asked (offline). To read it here, load it once on a machine with network "
        f"(python -c \"import datasets; datasets.load_dataset('{ref.repo_id}'{config})\") and copy that machine's "
        "~/.cache/huggingface/datasets to this server's cache_dir (HF_DATASETS_CACHE), or download the repository "
        f"(hf download --repo-type dataset {ref.repo_id}) and copy ~/.cache/huggingface/hub to hub_cache_dir "
        f"(HF_HUB_CACHE), or map '{ref.repo_id}' to a local directory in local_roots"
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()) if len(text) < 500 else text.splitlines()[0][:500]


# -- splits and rows ---------------------------------------------------------------------------------------------


def pick_split(splits: Any, ref: HFRef) -> Split:
    """``ref.split``, or by default ``train`` (else the dataset's only split); a 400 listing the splits otherwise."""
    names = list(splits)
    what = ref.described
    if ref.split is not None:
        name = ref.split
        if name not in splits:
            raise BadRequestError(
                f"{PARAM}: {what} has no split '{name}'; its splits: {', '.join(names) or 'none'}", param=PARAM
            )
    elif "train" in splits or len(names) == 1:
        name = "train" if "train" in splits else names[0]
    else:
        raise BadRequestError(
            f"{PARAM}: {what} has several splits ({', '.join(names)}): name one with ?split=", param=PARAM
        )
    dataset = splits[name]
    return Split(name, dataset.with_format("arrow"), dataset.num_rows, _has_binary(dataset.data.schema))


def read_rows(split: Split, start: int, end: int) -> list[dict[str, Any]]:
    """Rows ``start`` .. ``end`` of the split as JSON-ready dicts (only those rows leave Arrow)."""
    if end <= start:
        return []
    rows: list[dict[str, Any]] = split.table[start:end].to_pylist()
    return [_jsonable(row) for row in rows] if split.binary else rows


def _has_binary(schema: Any) -> bool:
    import pyarrow as pa

    def binary(kind: Any) -> bool:
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
            return True
        if pa.types.is_binary_view(kind):
            return True
        if pa.types.is_struct(kind):
            return any(binary(kind.field(i).type) for i in range(kind.num_fields))
        if pa.types.is_map(kind):
            return binary(kind.key_type) or binary(kind.item_type)
        if hasattr(kind, "value_type"):  # list kinds, dictionary
            return binary(kind.value_type)
        return False

    return any(binary(field.type) for field in schema)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
