"""inline::llm-as-judge passes the Scoring conformance kit, judged by a scripted model behind the real remote::vllm
adapter that grades each answer by comparing it with the reference in the prompt it is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_llm_as_judge import plugin
from llama_stack_provider_localfs_datasets import plugin as localfs_plugin
from llama_stack_provider_vllm import plugin as vllm_plugin

from llama_stack_core.testing.kit import PROVIDER_ID
from llama_stack_core.testing.scoring import ScoringProviderTests
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer, chat_completion

PROMPT = "Answer: {generated_answer}\nReference: {expected_answer}\nReply 'Score: 1' if they agree, else 'Score: 0'."
_SENT = re.compile(r"Answer: (.*)\nReference: (.*)\n")


def grade(request: RecordedRequest) -> Reply:
    """A judge that agrees when the answer equals the reference, ignoring case."""
    answer, reference = _SENT.search(request.json["messages"][-1]["content"]).groups()
    return Reply(json=chat_completion(f"Score: {int(answer.lower() == reference.lower())}"))


class TestLlmAsJudgeScoring(ScoringProviderTests):
    provider_type = "inline::llm-as-judge"
    extra_plugins = [plugin, vllm_plugin, localfs_plugin]
    function_id = "agrees"
    function = {
        "scoring_fn_id": "agrees",
        "description": "the judge says the answer agrees with the reference",
        "return_type": {"type": "number"},
        "params": {
            "type": "llm_as_judge",
            "judge_model": "judge",
            "prompt_template": PROMPT,
            "judge_score_regexes": [r"Score: (\d)"],
            "aggregation_functions": ["average"],
        },
    }
    rows = [
        {"generated_answer": "Paris", "expected_answer": "Paris"},
        {"generated_answer": "paris", "expected_answer": "Paris"},
        {"generated_answer": "Lyon", "expected_answer": "Paris"},
    ]
    expected_scores = ["1", "1", "0"]
    expected_aggregates = {"average": 2 / 3}

    @pytest.fixture(scope="class")
    @classmethod
    def judge_server(cls) -> Iterator[ScriptedServer]:
        with ScriptedServer(respond=grade) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path, judge_server: ScriptedServer) -> dict[str, list[dict[str, Any]]]:
        vllm = {"base_url": judge_server.base_url, "refresh_models": False}
        return {
            "inference": [{"provider_id": "vllm", "provider_type": "remote::vllm", "config": vllm}],
            "datasetio": [dict(cls.datasetio_provider)],
        }

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls) -> dict[str, Any]:
        judge = {"model_id": "judge", "provider_id": "vllm", "provider_model_id": "judge-8b"}
        return {"models": [judge], "scoring_fns": [{**cls.function, "provider_id": PROVIDER_ID}]}
