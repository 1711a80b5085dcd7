"""inline::builtin eval passes the core's eval conformance kit."""

from __future__ import annotations

import sys
from pathlib import Path

from llama_stack_provider_eval import plugin

from llama_stack_core.testing.eval import EvalProviderTests

sys.path.insert(0, str(Path(__file__).parent))
import eval_test_support


class TestBuiltinEval(EvalProviderTests):
    provider_type = "inline::builtin"
    provider_config = {"generation_concurrency": 2}
    extra_plugins = [plugin, eval_test_support]
    # stand-ins until inline::localfs and inline::basic are merged
    datasetio_provider = {"provider_id": "rows", "provider_type": "inline::rows", "config": {}}
    scoring_provider = {"provider_id": "exact", "provider_type": "inline::exact", "config": {}}
    scoring_function = "exact"
    supporting_resources = {
        "scoring_fns": [{"scoring_fn_id": "exact", "provider_id": "exact", "return_type": {"type": "number"}}]
    }
