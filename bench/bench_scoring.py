"""Scoring throughput of ``inline::basic``: rows/s for each built-in function over 100k rows, through the stack's
scoring router in-process (the path score-batch and eval jobs take), and for one 10k-row ``POST /v1/scoring/score``
through the HTTP app in-process (ASGI, no sockets: JSON parsing, validation and the response included). Prints one
table; nothing is asserted.

    .venv/bin/python bench/bench_scoring.py [--rows 100000] [--http-rows 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.scoring import ScoreRequest
from llama_stack_core.testing.harness import make_run_config, stack_client

LETTERS = "ABCD"


def rows_for(function_id: str, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Rows of realistic size for each function, about half of them right."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        expected = rng.choice(LETTERS)
        got = expected if rng.random() < 0.5 else rng.choice(LETTERS)
        if function_id == "basic::regex_parser_multiple_choice_answer":
            generated = f"Let me reason about option {got} step by step, which seems right.\nAnswer: {got}"
        elif function_id == "basic::regex_parser_math_response":
            value = i % 97
            generated = f"We add the terms and simplify, so the result is $\\boxed{{{value if got == expected else value + 1}}}$."
            expected = str(value)
        elif function_id == "basic::ifeval":
            rows.append(
                {
                    "generated_answer": "a short answer without commas that follows the rules" * (1 + i % 3),
                    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                    "kwargs": [{}, {"relation": "less than", "num_words": 20}],
                }
            )
            continue
        else:
            generated = f"The capital is {got}" if function_id == "basic::subset_of" else got
        rows.append({"input_query": f"question {i}", "generated_answer": generated, "expected_answer": expected})
    return rows


FUNCTIONS = (
    "basic::equality",
    "basic::subset_of",
    "basic::regex_parser_multiple_choice_answer",
    "basic::regex_parser_math_response",
    "basic::ifeval",
)


async def main(count: int, http_count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        providers = {"scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}]}
        async with stack_client(make_run_config(providers, Path(tmp))) as http:
            router = http.app.state.stack.routers[Api.scoring]
            print(f"inline::basic, {count:,} rows through the router; {http_count:,} rows in one HTTP request")
            print("| function | router rows/s | µs/row | HTTP rows/s | accuracy-like aggregate |")
            print("|---|---:|---:|---:|---|")
            for function_id in FUNCTIONS:
                rows = rows_for(function_id, count)
                request = ScoreRequest(input_rows=rows, scoring_functions={function_id: None})
                started = time.perf_counter()
                answer = await router.call("score", request)
                seconds = time.perf_counter() - started
                body = {"input_rows": rows[:http_count], "scoring_functions": {function_id: None}}
                started = time.perf_counter()
                response = await http.post("/v1/scoring/score", json=body)
                http_seconds = time.perf_counter() - started
                assert response.status_code == 200, response.text
                aggregates = answer.results[function_id].aggregated_results
                shown = {k: round(v, 3) for k, v in aggregates.items() if isinstance(v, float)}
                print(
                    f"| `{function_id}` | {count / seconds:,.0f} | {seconds / count * 1e6:.1f} | "
                    f"{http_count / http_seconds:,.0f} | {shown} |"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--http-rows", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.http_rows))
