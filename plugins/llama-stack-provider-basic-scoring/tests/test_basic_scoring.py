"""inline::basic: the conformance kit on three of its functions, each function's parsing and checks on known
answers, registered variants with their own params (400s for bad ones), and the llama-stack-client SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_stack_provider_basic_scoring import plugin
from llama_stack_provider_basic_scoring.answers import final_answer, same_math_answer
from llama_stack_provider_basic_scoring.functions import IFEVAL, MATH, MULTIPLE_CHOICE
from llama_stack_provider_basic_scoring.ifeval import CHECKS, score_instructions
from llama_stack_provider_basic_scoring.scorers import build_scorer
from llama_stack_provider_localfs_datasets import plugin as localfs_plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scoring import ScoringProviderTests

PLUGINS = [plugin, localfs_plugin]


class TestEquality(ScoringProviderTests):
    provider_type = "inline::basic"
    extra_plugins = PLUGINS
    function_id = "basic::equality"
    rows = [
        {"generated_answer": "Paris", "expected_answer": "Paris"},
        {"generated_answer": "paris", "expected_answer": "Paris"},
        {"generated_answer": "Paris ", "expected_answer": "Paris"},
        {"generated_answer": "Lyon", "expected_answer": "Paris"},
    ]
    expected_scores = [1.0, 0.0, 0.0, 0.0]
    expected_aggregates = {"accuracy": 0.25, "num_correct": 1, "num_total": 4}


class TestMultipleChoice(ScoringProviderTests):
    provider_type = "inline::basic"
    extra_plugins = PLUGINS
    function_id = MULTIPLE_CHOICE
    rows = [
        {"generated_answer": "Let me think. Answer: B", "expected_answer": "B"},
        {"generated_answer": "**Answer:** (c)", "expected_answer": "C"},
        {"generated_answer": "Réponse : A", "expected_answer": "B"},
        {"generated_answer": "Answer: Because it is.", "expected_answer": "B"},
        {"generated_answer": "The answer is D.", "expected_answer": "D"},
    ]
    expected_scores = [1.0, 1.0, 0.0, 0.0, 1.0]
    expected_aggregates = {"accuracy": 0.6}


class TestIfeval(ScoringProviderTests):
    provider_type = "inline::basic"
    extra_plugins = PLUGINS
    function_id = IFEVAL
    rows = [
        {
            "generated_answer": "all lower case and no commas here",
            "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
            "kwargs": [{}, {}],
        },
        {
            "generated_answer": "Hello, World",
            "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
            "kwargs": [{}, {}],
        },
        {
            "generated_answer": '"quoted, and four words"',
            "instruction_id_list": ["startend:quotation", "length_constraints:number_words", "punctuation:no_comma"],
            "kwargs": '[{}, {"relation": "less than", "num_words": 5}, {}]',
        },
    ]
    expected_scores = [1.0, 0.0, 2 / 3]
    expected_aggregates = {"weighted_average": (2 + 0 + 2) / 7}


# -- the functions on known answers ------------------------------------------------------------------------------


def score(function_id: str, row: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    return build_scorer(function_id, params).score_row(row)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Antwort: C", "C"),
        ("答案\uff1a\uff22", "B"),  # full-width colon and letter
        ("الإجابة: ب", "B"),
        ("Ответ: D", "D"),
        ("final answer: (a)", "A"),
        ("I am not sure", None),
        ("Answer: Because", None),
    ],
)
def test_multiple_choice_reads_the_letter_in_many_languages(text: str, parsed: str | None) -> None:
    row = score(MULTIPLE_CHOICE, {"generated_answer": text, "expected_answer": parsed or "A"})
    assert row["parsed_answer"] == parsed
    assert row["score"] == (1.0 if parsed else 0.0)


@pytest.mark.parametrize(
    ("solution", "expected", "correct"),
    [
        ("So $x = \\boxed{\\frac{1}{2}}$.", "0.5", True),
        ("The answer is 1,000 dollars.", "1000", True),
        ("We get \\boxed{\\text{(B)}} here, not \\boxed{3}", "3", True),
        ("Thus \\boxed{2\\sqrt{3}}", "\\boxed{2\\sqrt{3}}", True),
        ("Thus \\boxed{2\\sqrt{3}}", "2\\sqrt{2}", False),
        ("The final answer is: 45^\\circ", "45", True),
        ("no final answer anywhere", "4", False),
    ],
)
def test_math_final_answers_compare_after_normalising(solution: str, expected: str, correct: bool) -> None:
    row = score(MATH, {"generated_answer": solution, "expected_answer": expected})
    assert row["score"] == (1.0 if correct else 0.0), row


def test_math_takes_the_params_regexes_first() -> None:
    params = {"type": "regex_parser", "parsing_regexes": [r"RESULT=(\S+)"]}
    assert score(MATH, {"generated_answer": "RESULT=7 \\boxed{8}", "expected_answer": "7"}, params)["score"] == 1.0
    assert final_answer("\\boxed{8}") == "8" and same_math_answer("3/4", "0.75")


@pytest.mark.parametrize(
    ("instruction", "kwargs", "passing", "failing"),
    [
        ("keywords:existence", {"keywords": ["llama", "stack"]}, "A llama on a stack", "A llama alone"),
        ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "all good", "this is bad"),
        ("keywords:frequency", {"keyword": "yes", "frequency": 2, "relation": "at least"}, "yes and yes", "yes"),
        ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "less than"}, "z", "zzz"),
        ("change_case:english_capital", {}, "ALL CAPS", "Not caps"),
        ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}, "AB CD", "AB"),
        ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 2}, "One.", "One. Two."),
        ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n***\nb", "a b"),
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
            "First.\n\nThen more.",
            "First.\n\nAnd more.",
        ),
        ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two", "* one"),
        ("detectable_format:title", {}, "<<My Title>> text", "no title"),
        ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{not json"),
        (
            "detectable_format:multiple_sections",
            {"section_spliter": "SECTION", "num_sections": 2},
            "SECTION 1 a SECTION 2 b",
            "SECTION 1 a",
        ),
        ("detectable_format:constrained_response", {}, "My answer is yes.", "Yes"),
        ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* and *b*", "*a* only"),
        ("detectable_content:number_placeholders", {"num_placeholders": 1}, "Dear [name]", "Dear you"),
        ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\nP.S. bye", "Hi. bye"),
        ("startend:end_checker", {"end_phrase": "Is there anything else?"}, "Done. Is there anything else?", "Done."),
        ("combination:repeat_prompt", {"prompt_to_repeat": "Say hi"}, "Say hi. Hi!", "Hi!"),
        ("combination:two_responses", {}, "one ****** two", "one"),
    ],
)
def test_ifeval_instructions(instruction: str, kwargs: dict[str, Any], passing: str, failing: str) -> None:
    assert CHECKS[instruction](passing, kwargs) is True
    assert CHECKS[instruction](failing, kwargs) is False


def test_ifeval_unsupported_and_malformed_instructions_never_raise_a_score() -> None:
    row = score_instructions("hola", ["language:response_language", "punctuation:no_comma"], [{"language": "es"}, {}])
    assert row["score"] == 0.5 and row["weight"] == 2 and row["unsupported"] == ["language:response_language"]
    row = score_instructions("a b c", ["length_constraints:number_words"], [{"relation": "about", "num_words": 3}])
    assert row["score"] == 0.0 and "relation" in row["problems"]["length_constraints:number_words"]
    broken = score(IFEVAL, {"generated_answer": "x", "instruction_id_list": []})
    assert broken["score"] is None and "instruction_id_list" in broken["error"]


def test_ifeval_loose_mode_forgives_a_first_or_last_line_and_markup() -> None:
    row = score_instructions(
        'Sure, here it is:\n*"all lower case, quoted"*\nHope this helps!',
        ["change_case:english_lowercase", "startend:quotation", "punctuation:no_comma", "detectable_format:title"],
        None,
    )
    assert row["followed"] == [False, False, False, False] and row["score"] == 0.0
    # lower case without the first and last lines; quoted without the "*" too; commas and the title stay missing
    assert row["followed_loose"] == [True, True, False, False] and row["loose_score"] == 0.5
    strict_only = score_instructions("no commas here", ["punctuation:no_comma"], None)
    assert strict_only["followed_loose"] == [True] and strict_only["loose_score"] == 1.0


def test_a_row_without_its_columns_is_an_error_row() -> None:
    row = score("basic::subset_of", {"generated_answer": "Paris"})
    assert row == {"score": None, "error": "the row has no expected_answer"}


# -- registered variants -----------------------------------------------------------------------------------------


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    providers = {
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {}}],
        "datasetio": [{"provider_id": "localfs", "provider_type": "inline::localfs", "config": {}}],
    }
    async with stack_client(make_run_config(providers, tmp_path), PluginManager(extra_plugins=PLUGINS)) as client:
        yield client


def variant(scoring_fn_id: str, base: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "scoring_fn_id": scoring_fn_id,
        "provider_id": "basic",
        "provider_scoring_fn_id": base,
        "description": "a variant",
        "return_type": {"type": "number"},
        "params": params,
    }


@pytest.mark.anyio
async def test_a_registered_variant_scores_with_its_own_params_beside_the_built_in(http: httpx.AsyncClient) -> None:
    letter_only = variant(
        "letter-only", MULTIPLE_CHOICE, {"type": "regex_parser", "parsing_regexes": [r"^\s*([A-D])\b"]}
    )
    assert (await http.post("/v1/scoring-functions", json=letter_only)).status_code == 200
    rows = [
        {"generated_answer": "B", "expected_answer": "B"},
        {"generated_answer": "Answer: B", "expected_answer": "B"},
    ]
    body = {"input_rows": rows, "scoring_functions": {"letter-only": None, MULTIPLE_CHOICE: None}}
    results = (await http.post("/v1/scoring/score", json=body)).json()["results"]
    assert [r["score"] for r in results["letter-only"]["score_rows"]] == [1.0, 0.0]
    assert [r["score"] for r in results[MULTIPLE_CHOICE]["score_rows"]] == [0.0, 1.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("base", "params", "says"),
    [
        ("basic::nothing", {"type": "basic"}, "provider_scoring_fn_id must name"),
        (MULTIPLE_CHOICE, {"type": "regex_parser", "parsing_regexes": ["(unclosed"]}, "parsing_regexes.0"),
        (MULTIPLE_CHOICE, {"type": "regex_parser", "parsing_regexes": ["no group"]}, "group"),
        ("basic::equality", {"type": "regex_parser", "parsing_regexes": ["(x)"]}, "must be 'basic'"),
        ("basic::equality", {"type": "basic", "aggregation_functions": ["mode"]}, "params.aggregation_functions"),
        ("basic::equality", {"type": "llm_as_judge", "judge_model": "m"}, "must be 'basic'"),
    ],
)
async def test_bad_variants_are_400_at_registration(
    http: httpx.AsyncClient, base: str, params: dict[str, Any], says: str
) -> None:
    response = await http.post("/v1/scoring-functions", json=variant("bad", base, params))
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert (await http.get("/v1/scoring-functions/bad")).status_code == 404


@pytest.mark.anyio
async def test_with_the_llama_stack_client_sdk(http: httpx.AsyncClient) -> None:
    sdk = pytest.importorskip("llama_stack_client")
    client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
    listed = {f.identifier for f in await client.scoring_functions.list()}
    assert {"basic::equality", "basic::subset_of", IFEVAL, MULTIPLE_CHOICE, MATH} <= listed
    answer = await client.scoring.score(
        input_rows=[{"generated_answer": "a Paris b", "expected_answer": "Paris"}],
        scoring_functions={"basic::subset_of": None},
    )
    assert answer.results["basic::subset_of"].score_rows == [{"score": 1.0}]
    assert answer.results["basic::subset_of"].aggregated_results["accuracy"] == 1.0


# -- limits: a backtracking regex, a big request -----------------------------------------------------------------


@pytest.mark.anyio
async def test_a_regex_that_backtracks_without_end_fails_its_row_not_the_server(tmp_path: Path) -> None:
    """``((x|xx)+)+y`` on forty x's would keep the standard library's re busy for years (on twenty: a minute), holding
    the event loop and the GIL; searches run with a time limit, so only that row fails."""
    providers = {
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {"regex_timeout_ms": 50}}]
    }
    async with stack_client(make_run_config(providers, tmp_path), PluginManager(extra_plugins=PLUGINS)) as http:
        body = {
            "input_rows": [
                {"generated_answer": "x" * 40, "expected_answer": "x"},
                {"generated_answer": "xxy", "expected_answer": "XX"},
            ],
            "scoring_functions": {
                MULTIPLE_CHOICE: {"type": "regex_parser", "parsing_regexes": [r"((x|xx)+)+y"]},
                MATH: {"type": "regex_parser", "parsing_regexes": [r"((x|xx)+)+y"]},
            },
        }
        started = time.perf_counter()
        response = await http.post("/v1/scoring/score", json=body)
        assert time.perf_counter() - started < 5
        assert response.status_code == 200, response.text
        for function_id in (MULTIPLE_CHOICE, MATH):
            result = response.json()["results"][function_id]
            slow, fine = result["score_rows"]
            assert slow["score"] is None and "50 ms" in slow["error"]
            assert fine["parsed_answer"].lower() == "xx"
            assert result["aggregated_results"]["num_errors"] == 1


@pytest.mark.anyio
async def test_a_big_request_is_scored_while_the_server_answers_others(tmp_path: Path) -> None:
    """Scoring is pure CPU: a request of thread_min_rows or more runs in a worker thread, so a health check sent
    while 30k math rows are scored is answered before they are."""
    providers = {
        "scoring": [{"provider_id": "basic", "provider_type": "inline::basic", "config": {"thread_min_rows": 100}}]
    }
    rows = [
        {"generated_answer": f"Adding up, we get $\\boxed{{\\frac{{{i}}}{{{i % 7 + 1}}}}}$.", "expected_answer": str(i)}
        for i in range(30_000)
    ]
    finished: dict[str, float] = {}
    async with stack_client(make_run_config(providers, tmp_path), PluginManager(extra_plugins=PLUGINS)) as http:

        async def score() -> None:
            response = await http.post(
                "/v1/scoring/score", json={"input_rows": rows, "scoring_functions": {MATH: None}}
            )
            assert response.status_code == 200, response.text
            assert len(response.json()["results"][MATH]["score_rows"]) == len(rows)
            finished["score"] = time.perf_counter()

        async def health() -> None:
            await asyncio.sleep(0.2)  # the score request is being scored by then
            assert (await http.get("/v1/health")).status_code == 200
            finished["health"] = time.perf_counter()

        await asyncio.gather(score(), health())
    assert finished["health"] < finished["score"]
