"""remote::huggingface without the ``datasets`` library: the plugin module stays light, the config checks its
``local_roots``, and dataset sources (``hf://``, ``huggingface://``, upstream's ``metadata.path``) are read into what
they name, or refused with a 400 naming the field."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from llama_stack_provider_huggingface_datasets import plugin
from llama_stack_provider_huggingface_datasets.config import PROVIDER_TYPE, HuggingFaceDatasetsConfig
from llama_stack_provider_huggingface_datasets.refs import HFRef, reads, resolve
from pydantic import ValidationError

from llama_stack_core.apis.resources import Dataset, RowsDataSource, URIDataSource
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import BadRequestError, ConfigError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.imports import assert_plugin_module_is_light


def dataset(uri: str | None, **metadata: Any) -> Dataset:
    source = URIDataSource(uri=uri) if uri is not None else RowsDataSource(rows=[{"a": 1}])
    return Dataset(
        identifier="d",
        provider_id="hf",
        provider_resource_id="d",
        purpose="eval/question-answer",
        source=source,
        metadata=metadata,
    )


def test_plugin_module_is_light_and_declares_the_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_huggingface_datasets.plugin",
        {
            "llama_stack_provider_huggingface_datasets.provider",
            "llama_stack_provider_huggingface_datasets.loading",
            "datasets",
            "huggingface_hub",
            "pyarrow",
            "pandas",
        },
        call=["register_datasetio_providers"],
    )
    [spec] = plugin.register_datasetio_providers()
    assert spec.api == Api.datasetio and spec.provider_type == PROVIDER_TYPE == "remote::huggingface"
    assert spec.api_dependencies == () and spec.optional_api_dependencies == ()
    assert PluginManager(extra_plugins=[plugin]).provider_spec(Api.datasetio, PROVIDER_TYPE) is not None


def test_config_defaults_sample_and_local_roots() -> None:
    config = HuggingFaceDatasetsConfig()
    assert config.offline is False and config.local_roots == {} and config.max_page_rows == 50_000
    sample = HuggingFaceDatasetsConfig.sample_config()
    assert HuggingFaceDatasetsConfig.model_validate(sample) == config
    roots = HuggingFaceDatasetsConfig(local_roots={"acme/qa": "/srv/qa"}).local_roots
    assert roots == {"acme/qa": "/srv/qa"}
    for bad, field in (
        ({"local_roots": {"qa": "/srv/qa"}}, "not a dataset repository id"),
        ({"local_roots": {"acme/../qa": "/srv/qa"}}, "not a dataset repository id"),
        ({"local_roots": {"acme/qa": "relative/dir"}}, "not an absolute path"),
        ({"max_page_rows": 0}, "max_page_rows"),
        ({"unknown": 1}, "unknown"),
    ):
        with pytest.raises(ValidationError, match=field):
            HuggingFaceDatasetsConfig.model_validate(bad)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("hf://datasets/acme/qa", HFRef("acme/qa")),
        ("hf://datasets/acme/qa?split=test&name=hard", HFRef("acme/qa", name="hard", split="test")),
        ("hf://datasets/acme/qa@v1.0?split=train", HFRef("acme/qa", split="train", revision="v1.0")),
        ("hf://datasets/acme/qa?revision=refs/pr/1&data_dir=en", HFRef("acme/qa", revision="refs/pr/1", data_dir="en")),
        ("huggingface://datasets/llamastack/simpleqa?split=train", HFRef("llamastack/simpleqa", split="train")),
        ("huggingface://llamastack/simpleqa?split=train", HFRef("llamastack/simpleqa", split="train")),
        ("HF://datasets/acme/qa", HFRef("acme/qa")),
        ("hf://datasets/acme/qa%2Dv2", HFRef("acme/qa-v2")),
    ],
)
def test_uris_name_the_dataset(uri: str, expected: HFRef) -> None:
    assert resolve(dataset(uri)) == expected
    assert reads(URIDataSource(uri=uri))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("hf://acme/qa", "names no dataset"),
        ("hf://models/acme/qa", "names no dataset"),
        ("hf://datasets/qa", "expected <org>/<name>"),
        ("hf://datasets/", "expected <org>/<name>"),
        ("hf://datasets/acme/qa/data/train.parquet", "a file inside a repository"),
        ("hf://datasets/acme/..?split=train", "not a valid name"),
        ("hf://datasets/acme/q a", "not a valid name"),
        ("hf://datasets/acme/qa@", "empty @revision"),
        ("hf://datasets/acme/qa@v1?revision=v2", "two revisions"),
        ("hf://datasets/acme/qa?split=a&split=b", "'split' is given 2 times"),
        ("hf://datasets/acme/qa?split=", "'split' is empty"),
        ("hf://datasets/acme/qa?streaming=true", "unknown parameter 'streaming'"),
        ("hf://datasets/acme/qa?split", "malformed query"),
        ("hf://datasets/acme/qa?data_dir=../../etc", "without '..'"),
        ("hf://datasets/acme/qa?data_dir=/etc", "without '..'"),
        ("hf://datasets/acme/qa?revision=../../x", "without '..'"),
        ("https://huggingface.co/datasets/acme/qa", "or any URI with metadata.path"),
        ("file:///data/qa.jsonl", "or any URI with metadata.path"),
    ],
)
def test_bad_uris_are_400_naming_source_uri(uri: str, message: str) -> None:
    with pytest.raises(BadRequestError, match=message) as refused:
        resolve(dataset(uri))
    assert refused.value.param == "source.uri"


def test_only_hf_uris_are_read_by_default() -> None:
    assert not reads(RowsDataSource(rows=[{"a": 1}]))
    for uri in ("file:///data/qa.jsonl", "/data/qa.jsonl", "file-0123", "https://huggingface.co/datasets/a/b"):
        assert not reads(URIDataSource(uri=uri))
    with pytest.raises(BadRequestError, match="not inline rows") as refused:
        resolve(dataset(None))
    assert refused.value.param == "source"


def test_upstream_metadata_convention() -> None:
    """``metadata.path`` names the dataset with any URI (upstream's older form); with it, ``name``, ``split``,
    ``revision`` and ``data_dir`` come from the metadata too, and URI parameters win over them."""
    older = dataset("https://huggingface.co/datasets/llamastack/evals", path="llamastack/evals", name="mmlu", split="x")
    assert resolve(older) == HFRef("llamastack/evals", name="mmlu", split="x")
    both = dataset("hf://datasets/acme/qa?split=test", path="acme/qa", split="train", name="hard")
    assert resolve(both) == HFRef("acme/qa", name="hard", split="test")
    # without metadata.path, a dataset's own metadata (a "name" for people) is never taken for a config
    assert resolve(dataset("hf://datasets/acme/qa", name="My QA set", split="nope")) == HFRef("acme/qa")
    for metadata, field in (
        ({"path": "qa"}, "metadata.path"),
        ({"path": "other/qa"}, "metadata.path"),
        ({"path": "acme/qa", "split": 3}, "metadata.split"),
        ({"path": "acme/qa", "data_dir": "../x"}, "metadata.data_dir"),
    ):
        with pytest.raises(BadRequestError) as refused:
            resolve(dataset("hf://datasets/acme/qa", **metadata))
        assert refused.value.param == field, metadata


def test_without_the_datasets_library_the_provider_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_stack_provider_huggingface_datasets.provider import create_provider

    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"needs the `datasets` library: pip install 'datasets>=4.8'"):
        asyncio.run(create_provider(HuggingFaceDatasetsConfig(), {}))
