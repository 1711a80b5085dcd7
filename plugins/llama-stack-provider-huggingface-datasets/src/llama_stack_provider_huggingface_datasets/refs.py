"""What a dataset names on the Hugging Face side: a repository id, a config, a split, a revision, a data dir.

Read from the dataset's source URI (``hf://datasets/<org>/<name>[@<revision>]?split=train&name=<config>``, or
upstream's ``huggingface://datasets/<org>/<name>?split=...`` and ``huggingface://<org>/<name>?...``), and from
upstream's older convention, ``metadata.path`` (the repository id) with ``metadata.name`` (config), ``metadata.split``,
``metadata.revision``, ``metadata.data_dir``: read only when ``metadata.path`` is set (so an unrelated ``name`` in a
dataset's metadata is never taken for a config), with any URI; URI parameters win over metadata. Light (config.py
imports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from llama_stack_core.apis.resources import Dataset, DataSource, URIDataSource
from llama_stack_core.errors import BadRequestError

SCHEMES = ("hf", "huggingface")
#: URI query parameters (and metadata keys) this provider reads
PARAMETERS = ("split", "name", "revision", "data_dir")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
#: a revision (branch, tag, commit, refs/pr/1) or a data_dir: relative, never climbing out with '..'
_RELATIVE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}")
_FORM = "hf://datasets/<org>/<name>?split=<split>&name=<config>"


@dataclass(frozen=True)
class HFRef:
    """A dataset on the Hugging Face side. ``split`` None: ``train``, or the dataset's only split."""

    repo_id: str
    name: str | None = None
    split: str | None = None
    revision: str | None = None
    data_dir: str | None = None

    @property
    def described(self) -> str:
        """``dataset 'org/name'`` and its config, for messages."""
        return f"dataset '{self.repo_id}'" + (f" (config '{self.name}')" if self.name else "")

    @property
    def splits_key(self) -> tuple[str, str | None, str | None, str | None]:
        """What decides the set of splits loaded together (everything but the split)."""
        return (self.repo_id, self.name, self.revision, self.data_dir)


def check_repo_id(repo_id: str) -> str | None:
    """Why ``repo_id`` is not a dataset repository id (``org/name``), or None. Single names (the Hub's old canonical
    datasets, now all under an org) are refused: they could name one of the ``datasets`` library's own builders."""
    segments = repo_id.split("/")
    if len(segments) != 2:
        return "expected <org>/<name>"
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or ".." in segment or segment.endswith((".", "-")):
            return f"'{segment}' is not a valid name (letters, digits, '.', '_', '-')"
    return None


def reads(source: DataSource) -> bool:
    """Whether the source is a Hugging Face dataset URI."""
    return isinstance(source, URIDataSource) and urlsplit(source.uri).scheme.lower() in SCHEMES


def resolve(dataset: Dataset) -> HFRef:
    """The dataset's :class:`HFRef`; a 400 naming ``source.uri`` or the metadata key for anything else."""
    source = dataset.source
    metadata = dataset.metadata or {}
    if not isinstance(source, URIDataSource):
        raise BadRequestError(
            f"source: remote::huggingface reads Hugging Face datasets ({_FORM}), not inline rows; register rows with "
            "a provider that stores them (inline::localfs)",
            param="source",
        )
    path = _metadata_str(metadata, "path")
    if path is not None:
        problem = check_repo_id(path)
        if problem is not None:
            raise BadRequestError(f"metadata.path: '{path}' is not a dataset id ({problem})", param="metadata.path")
    parts = urlsplit(source.uri)
    params: dict[str, str] = {}
    if parts.scheme.lower() in SCHEMES:
        repo_id, revision = _repo_of(source.uri, parts.scheme.lower(), parts.netloc, parts.path)
        params = _query(source.uri, parts.query)
        if revision is not None:
            if params.get("revision", revision) != revision:
                raise BadRequestError(
                    f"source.uri: '{source.uri}' names two revisions ('@{revision}' and revision=)",
                    param="source.uri",
                )
            params["revision"] = revision
        if path is not None and path != repo_id:
            raise BadRequestError(
                f"metadata.path: '{path}' is not the dataset source.uri names ('{repo_id}')", param="metadata.path"
            )
    elif path is not None:
        repo_id = path
    else:
        raise BadRequestError(
            f"source.uri: remote::huggingface reads {_FORM} (or huggingface://datasets/...), "
            f"or any URI with metadata.path naming the dataset; not '{source.uri}'",
            param="source.uri",
        )
    older = path is not None  # upstream's metadata convention applies only with metadata.path
    values = {key: params.get(key, _metadata_str(metadata, key) if older else None) for key in PARAMETERS}
    for key in ("revision", "data_dir"):
        value = values[key]
        if value is not None and (not _RELATIVE.fullmatch(value) or ".." in value.split("/")):
            where = "source.uri" if key in params else f"metadata.{key}"
            raise BadRequestError(f"{where}: {key} '{value}' is not a relative name without '..'", param=where)
    return HFRef(repo_id=repo_id, **values)


def _repo_of(uri: str, scheme: str, netloc: str, path: str) -> tuple[str, str | None]:
    """The repository id and the ``@revision`` of a ``hf://`` or ``huggingface://`` URI."""
    segments = [unquote(s) for s in path.split("/") if s]
    if netloc == "datasets":
        pass
    elif scheme == "huggingface" and netloc:  # upstream's documented huggingface://<org>/<name>
        segments.insert(0, unquote(netloc))
    else:
        raise BadRequestError(f"source.uri: '{uri}' names no dataset; the form is {_FORM}", param="source.uri")
    revision = None
    if segments and "@" in segments[-1]:
        segments[-1], revision = segments[-1].split("@", 1)
        if not revision:
            raise BadRequestError(f"source.uri: '{uri}' has an empty @revision", param="source.uri")
    repo_id = "/".join(segments)
    problem = check_repo_id(repo_id) if segments else "expected <org>/<name>"
    if problem is not None:
        where = " (a file inside a repository cannot be read on its own: use data_dir=)" if len(segments) > 2 else ""
        raise BadRequestError(
            f"source.uri: '{uri}' does not name a dataset: {problem}{where}; the form is {_FORM}", param="source.uri"
        )
    return repo_id, revision


def _query(uri: str, query: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise BadRequestError(f"source.uri: '{uri}' has a malformed query string", param="source.uri") from None
    unknown = sorted(set(parsed) - set(PARAMETERS))
    if unknown:
        raise BadRequestError(
            f"source.uri: unknown parameter '{unknown[0]}' in '{uri}'; known: {', '.join(PARAMETERS)}",
            param="source.uri",
        )
    params: dict[str, str] = {}
    for key, values in parsed.items():
        if len(values) > 1:
            raise BadRequestError(f"source.uri: '{key}' is given {len(values)} times in '{uri}'", param="source.uri")
        if not values[0]:
            raise BadRequestError(f"source.uri: '{key}' is empty in '{uri}'", param="source.uri")
        params[key] = values[0]
    return params


def _metadata_str(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"metadata.{key}: must be a non-empty string", param=f"metadata.{key}")
    return value
