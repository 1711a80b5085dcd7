"""inline::builtin eval passes the core's eval conformance kit."""

from __future__ import annotations

from llama_stack_provider_basic_scoring import plugin as basic_plugin
from llama_stack_provider_eval import plugin
from llama_stack_provider_localfs_datasets import plugin as localfs_plugin

from llama_stack_core.testing.eval import EvalProviderTests


class TestBuiltinEval(EvalProviderTests):
    provider_type = "inline::builtin"
    provider_config = {"generation_concurrency": 2}
    extra_plugins = [plugin, localfs_plugin, basic_plugin]
