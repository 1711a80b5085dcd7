"""The conformance kit's resource-lifecycle tests, run for every resource type on the core's test providers."""

from __future__ import annotations

import stack_test_plugin
from stack_test_plugin import echo_providers

from llama_stack_core.testing.lifecycle import ResourceLifecycleTests

RECORDER = {"provider_type": "inline::recorder", "config": {}}


class TestModels(ResourceLifecycleTests):
    api, provider_type, resource_type = "inference", "inline::echo", "model"
    provider_config = {"prefix": "t", "api_key": "sk-very-secret-123"}
    register_body = {"model_id": "kit-model", "provider_model_id": "kit-llm"}
    extra_plugins = [stack_test_plugin]


class TestShields(ResourceLifecycleTests):
    api, provider_type, resource_type = "safety", "inline::recorder", "shield"
    register_body = {"shield_id": "kit-shield", "params": {"level": 2}}
    extra_plugins = [stack_test_plugin]


class TestToolGroups(ResourceLifecycleTests):
    api, provider_type, resource_type = "tool_runtime", "inline::recorder", "tool_group"
    register_body = {"toolgroup_id": "kit-tools", "mcp_endpoint": {"uri": "http://127.0.0.1:1/mcp"}}
    extra_plugins = [stack_test_plugin]


class TestDatasets(ResourceLifecycleTests):
    api, provider_type, resource_type = "datasetio", "inline::recorder", "dataset"
    register_body = {
        "dataset_id": "kit-data",
        "purpose": "eval/question-answer",
        "source": {"type": "rows", "rows": [{"question": "1+1", "answer": "2"}]},
    }
    extra_plugins = [stack_test_plugin]


class TestVectorDBs(ResourceLifecycleTests):
    api, provider_type, resource_type = "vector_io", "inline::recorder", "vector_db"
    register_body = {"vector_db_id": "kit-vectors", "embedding_model": "emb"}
    supporting_providers = {"inference": echo_providers("emb-provider")}
    supporting_resources = {
        "models": [{"model_id": "emb", "model_type": "embedding", "metadata": {"embedding_dimension": 8}}]
    }
    extra_plugins = [stack_test_plugin]


class TestScoringFunctions(ResourceLifecycleTests):
    api, provider_type, resource_type = "scoring", "inline::recorder", "scoring_function"
    register_body = {"scoring_fn_id": "kit-fn", "description": "exact match", "return_type": {"type": "number"}}
    extra_plugins = [stack_test_plugin]


class TestBenchmarks(ResourceLifecycleTests):
    api, provider_type, resource_type = "eval", "inline::recorder", "benchmark"
    register_body = {"benchmark_id": "kit-bench", "dataset_id": "qa", "scoring_functions": ["fn"]}
    supporting_providers = {
        "datasetio": [{"provider_id": "d", **RECORDER}],
        "scoring": [{"provider_id": "s", **RECORDER}],
    }
    supporting_resources = {
        "datasets": [{"dataset_id": "qa", "purpose": "eval/question-answer", "source": {"type": "uri", "uri": "x"}}],
        "scoring_fns": [{"scoring_fn_id": "fn", "return_type": {"type": "number"}}],
    }
    extra_plugins = [stack_test_plugin]
