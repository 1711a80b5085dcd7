"""inline::llm-as-judge: templates, verdict parsing and params on their own; then scoring through the stack against a
scripted judge behind the real ``remote::vllm`` adapter, which answers each row by what its prompt says, so every
score, aggregate and error row is known exactly."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from llama_stack_provider_llm_as_judge import plugin
from llama_stack_provider_llm_as_judge.functions import BASE, SIMPLEQA, SIMPLEQA_REGEXES, SIMPLEQA_TEMPLATE
from llama_stack_provider_llm_as_judge.params import JudgeParams, overridden, parse_params
from llama_stack_provider_llm_as_judge.template import MissingColumn, NullColumn, PromptTemplate, TemplateError
from llama_stack_provider_llm_as_judge.verdict import VerdictError, VerdictReader, first_json_object
from llama_stack_provider_vllm import plugin as vllm_plugin

from llama_stack_core.errors import BadRequestError
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.lifecycle import ResourceLifecycleTests
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer, chat_completion

PROVIDER_TYPE = "inline::llm-as-judge"
JUDGE = "judge"  # the judge model's id in the stack
UPSTREAM_JUDGE = "judge-70b"  # its id at the scripted upstream

pytestmark = pytest.mark.anyio

RUBRIC = "Question: {input_query}\nAnswer: {generated_answer}\nReference: {expected_answer}\nRate 0-5 as 'Score: N'."
ROWS = [
    {"input_query": "Capital of France?", "generated_answer": "Paris", "expected_answer": "Paris"},
    {"input_query": "2+2?", "generated_answer": "5", "expected_answer": "4"},
    {"input_query": "Largest ocean?", "generated_answer": "The Pacific", "expected_answer": "Pacific"},
]


# -- templates --------------------------------------------------------------------------------------------------------


def test_template_renders_known_fields_row_columns_and_literal_braces():
    template = PromptTemplate.parse('Q: {input_query} ctx={row[context]} {{"score": N}} A: {generated_answer}')
    assert template.columns == ("input_query", "context", "generated_answer")
    row = {"input_query": "why?", "context": ["a", 1], "generated_answer": "because"}
    assert template.render(row) == 'Q: why? ctx=["a", 1] {"score": N} A: because'
    assert template.missing_columns({"input_query": "q"}) == ["context", "generated_answer"]
    with pytest.raises(MissingColumn):
        template.render({"input_query": "q", "context": "c"})
    with pytest.raises(NullColumn, match="'generated_answer' is null"):
        template.render({**row, "generated_answer": None})


def test_chat_completion_input_is_inserted_as_json_unless_it_is_a_string():
    template = PromptTemplate.parse("{chat_completion_input}")
    messages = [{"role": "user", "content": "hé"}]
    assert template.render({"chat_completion_input": messages}) == '[{"role": "user", "content": "hé"}]'
    assert template.render({"chat_completion_input": '[{"role": "user"}]'}) == '[{"role": "user"}]'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q: {question}", "unknown placeholder {question}; known: {input_query}, {generated_answer}, "),
        ('Reply {"score": 1} for {generated_answer}', 'unknown placeholder {"score"}'),
        ("{}", "unknown placeholder {}"),
        ("{0}", "unknown placeholder {0}"),
        ("{input_query.__class__}", "unknown placeholder {input_query.__class__}"),
        ("{row}", "needs a column: {row[COLUMN]}"),
        ("{row[a][b]}", "unknown placeholder"),
        ("{generated_answer!r}", "conversions (!r) and format specs"),
        ("{generated_answer:>10}", "conversions (!r) and format specs"),
        ("{generated_answer", "write a literal brace as {{ or }}"),
        ("Score: }", "write a literal brace"),
        ("Rate the answer.", "reads no row column"),
    ],
)
def test_bad_templates_say_why(text, expected):
    with pytest.raises(TemplateError) as caught:
        PromptTemplate.parse(text)
    assert expected in str(caught.value)
    if "unknown placeholder" in expected:
        assert "{row[COLUMN]}" in str(caught.value) and "{{ or }}" in str(caught.value)


# -- verdicts -------------------------------------------------------------------------------------------------------


def test_regex_verdict_is_group_one_of_the_first_pattern_that_matches():
    reader = VerdictReader(regexes=(re.compile(r"Score:\s*(\d)"), re.compile(r"(\d)/5")))
    assert reader.read("I'd say 3/5. Score: 4") == "4"  # the first pattern wins, wherever it matches
    assert reader.read("I'd say 3/5.") == "3"
    with pytest.raises(VerdictError, match="matches none of judge_score_regexes"):
        reader.read("no idea")
    optional = VerdictReader(regexes=(re.compile(r"grade(?: (\w))?"), re.compile(r"(\d)")))
    assert optional.read("grade, 7") == "7"  # a pattern whose group did not take part does not count


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ('{"score": 4}', 4),
        ('Here you go:\n```json\n{"score": 2.5, "why": "close"}\n```', 2.5),
        ('{"oops"} then {"score": "3"}', "3"),
        ('a set {1, 2} and {"score": true}', True),
    ],
)
def test_json_verdict_reads_the_first_object(text, score):
    assert VerdictReader(json_field="score").read(text) == score


def test_json_verdict_nested_field_score_map_and_failures():
    reader = VerdictReader(json_field="verdict.label", score_map={"pass": 1.0, "fail": 0.0, "true": 0.5})
    assert reader.read('{"verdict": {"label": "pass"}}') == 1.0
    assert reader.read('{"verdict": {"label": true}}') == 0.5
    for text, message in [
        ("no json here", "holds no JSON object"),
        ('{"verdict": "pass"}', "no 'verdict.label' field"),
        ('{"verdict": {"label": ["pass"]}}', 'is ["pass"], not a score'),
        ('{"verdict": {"label": null}}', "is null, not a score"),
        ('{"verdict": {"label": "maybe"}}', "'maybe' is not in score_map ('pass', 'fail', 'true')"),
    ]:
        with pytest.raises(VerdictError) as caught:
            reader.read(text)
        assert message in str(caught.value)
    assert first_json_object('{"a": {"b": 1}} {"c": 2}') == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ("A", "A"),
        (" **B** \n", "B"),
        ('"C".', "C"),
        ("B: INCORRECT", "B"),
        ("The predicted answer is wrong. C) NOT_ATTEMPTED", "C"),
        ("Grade: A", "A"),
        ("The answer is B.", "B"),
        # upstream's (A|B|C) would read these as grades (the C of CORRECT, the A of Answer); they are not
        ("CORRECT", None),
        ("Answer: Barack", None),
        ("a", None),
        ("I cannot grade this.", None),
    ],
)
def test_simpleqa_regexes(reply, grade):
    reader = VerdictReader(regexes=tuple(map(re.compile, SIMPLEQA_REGEXES)))
    if grade is None:
        with pytest.raises(VerdictError):
            reader.read(reply)
    else:
        assert reader.read(reply) == grade


# -- params -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"judge_score_regexes": ["Score: \\d"]}, "judge_score_regexes: [0] 'Score: \\\\d' has 0 capturing groups"),
        ({"judge_score_regexes": ["(a)(b)"]}, "has 2 capturing groups"),
        ({"judge_score_regexes": ["(unclosed"]}, "does not compile: missing )"),
        ({"aggregation_functions": ["mode"]}, "aggregation_functions.0: Input should be 'average'"),
        ({"prompt_template": "{answer}"}, "prompt_template: unknown placeholder {answer}"),
        ({"temperature": 0.5}, "temperature: unknown param (known: type, judge_model, prompt_template"),
        ({"type": "basic"}, "type: Input should be 'llm_as_judge'"),
        ({"verdict_format": "json", "judge_score_regexes": ["(x)"]}, "judge_score_regexes are for verdict_format"),
        ({"verdict_format": "xml"}, "verdict_format: Input should be 'regex' or 'json'"),
        ({"score_map": {}}, "score_map: Dictionary should have at least 1 item"),
        ({"score_map": {"A": "one"}}, "score_map.A: Input should be a valid number"),
        ({"judge_model": ""}, "judge_model: String should have at least 1 character"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
    ],
)
def test_bad_params_are_400_naming_the_param(params, expected):
    with pytest.raises(BadRequestError) as caught:
        parse_params(params, "scoring function 'f' params")
    assert caught.value.message.startswith("scoring function 'f' params: ")
    assert expected in caught.value.message


def test_request_params_override_only_what_they_give():
    registered = parse_params(
        {"judge_model": "a", "prompt_template": RUBRIC, "judge_score_regexes": ["(x)"], "max_tokens": 9}, "r"
    )
    # what the 0.2 SDK sends to change only the judge: the required lists, empty
    sdk = {"type": "llm_as_judge", "judge_model": "b", "judge_score_regexes": [], "aggregation_functions": []}
    merged = overridden(registered, sdk, "w")
    assert merged == JudgeParams(judge_model="b", prompt_template=RUBRIC, judge_score_regexes=["(x)"], max_tokens=9)
    to_json = overridden(registered, {"judge_model": "a", "verdict_format": "json"}, "w")
    assert (to_json.verdict_format, to_json.judge_score_regexes) == ("json", [])
    registered_json = parse_params({"verdict_format": "json", "json_score_field": "s"}, "r")
    back = overridden(registered_json, {"judge_model": "a", "judge_score_regexes": ["(y)"]}, "w")
    assert (back.verdict_format, back.judge_score_regexes) == ("regex", ["(y)"])
    with pytest.raises(BadRequestError, match="w: prompt_template: unknown placeholder {x}"):
        overridden(registered, {"judge_model": "a", "prompt_template": "{x}"}, "w")


def test_plugin_module_is_light_and_offers_the_default_functions():
    assert_plugin_module_is_light(
        "llama_stack_provider_llm_as_judge.plugin",
        {"llama_stack_provider_llm_as_judge.provider", "llama_stack_provider_llm_as_judge.verdict"},
        call=["register_scoring_providers"],
    )
    [spec] = plugin.register_scoring_providers()
    assert spec.provider_type == PROVIDER_TYPE and spec.api_dependencies == (plugin.Api.inference,)
    config = plugin.LlmAsJudgeConfig(default_judge_model="m")
    base, simpleqa = plugin.register_scoring_fns(provider_type=PROVIDER_TYPE, provider_id="j", config=config)
    assert (base.scoring_fn_id, simpleqa.scoring_fn_id) == (BASE, SIMPLEQA)
    assert base.params == {"type": "llm_as_judge", "judge_model": "m"}
    assert simpleqa.params["judge_model"] == "m" and simpleqa.params["aggregation_functions"] == ["categorical_count"]
    assert parse_params(simpleqa.params, "simpleqa").prompt_template == SIMPLEQA_TEMPLATE
    assert plugin.register_scoring_fns(provider_type="inline::basic", provider_id="b", config=config) is None


# -- through the stack, against a scripted judge --------------------------------------------------------------------


def sent_prompt(request: RecordedRequest) -> str:
    [message] = request.json["messages"]
    assert message["role"] == "user"
    return message["content"]


def judge_by_question(verdicts: dict[str, Reply | str]) -> Callable[[RecordedRequest], Reply]:
    """A judge answering each prompt by the first known question it contains."""

    def respond(request: RecordedRequest) -> Reply:
        prompt = sent_prompt(request)
        for question, verdict in verdicts.items():
            if question in prompt:
                return verdict if isinstance(verdict, Reply) else Reply(json=chat_completion(verdict, UPSTREAM_JUDGE))
        return Reply(status=500, json={"error": {"message": f"unscripted prompt: {prompt[:80]}"}})

    return respond


def run_config(tmp_path, scripted: ScriptedServer, judge_config: dict[str, Any] | None = None, **extra: Any) -> dict:
    providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": scripted.base_url, "refresh_models": False},
            }
        ],
        "scoring": [{"provider_id": "llm-as-judge", "provider_type": PROVIDER_TYPE, "config": judge_config or {}}],
    }
    models = extra.pop("models", []) + [{"model_id": JUDGE, "provider_id": "vllm", "provider_model_id": UPSTREAM_JUDGE}]
    return make_run_config(providers, tmp_path, models=models, **extra)


def judge_stack(config: dict[str, Any]):
    return stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin, vllm_plugin]))


def register_body(fn_id: str, **params: Any) -> dict[str, Any]:
    return {
        "scoring_fn_id": fn_id,
        "provider_id": "llm-as-judge",
        "description": "test judge",
        "return_type": {"type": "number"},
        "params": {"type": "llm_as_judge", **params},
    }


RUBRIC_JUDGE = {"judge_model": JUDGE, "prompt_template": RUBRIC, "judge_score_regexes": [r"Score:\s*(\d)"]}


async def score(client: Any, rows: list[dict[str, Any]], functions: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/scoring/score", json={"input_rows": rows, "scoring_functions": functions})
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def test_registered_regex_judge_scores_each_row_from_its_verdict(tmp_path, scripted):
    scripted.respond = judge_by_question(
        {
            "Capital of France?": "The answer matches the reference.\nScore: 5",
            "2+2?": "Wrong arithmetic. Score: 0",
            "Largest ocean?": "Score: 4 (extra article)",
        }
    )
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        created = await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))
        assert created.status_code == 200, created.text
        results = await score(client, ROWS, {"rubric": None})
        stored = (await client.get("/v1/scoring-functions/rubric")).json()
    assert results == {
        "rubric": {
            "score_rows": [
                {"score": "5", "judge_feedback": "The answer matches the reference.\nScore: 5"},
                {"score": "0", "judge_feedback": "Wrong arithmetic. Score: 0"},
                {"score": "4", "judge_feedback": "Score: 4 (extra article)"},
            ],
            "aggregated_results": {"average": 3.0},  # numeric verdicts and no aggregation_functions: average
        }
    }
    assert stored["provider_id"] == "llm-as-judge" and stored["params"]["judge_score_regexes"] == [r"Score:\s*(\d)"]
    assert len(scripted.requests) == 3
    france = next(r for r in scripted.requests if "France" in sent_prompt(r))
    assert france.path == "/v1/chat/completions"
    assert france.json == {
        "model": UPSTREAM_JUDGE,
        "messages": [{"role": "user", "content": RUBRIC.format(**ROWS[0])}],
        "temperature": 0,
        "max_tokens": 512,
    }


async def test_simpleqa_grades_count_per_letter_and_a_garbage_verdict_is_an_error_row(tmp_path, scripted):
    rows = [
        {"input_query": "Who wrote Hamlet?", "expected_answer": "Shakespeare", "generated_answer": "Shakespeare"},
        {
            "input_query": "Boiling point of water at sea level in C?",
            "expected_answer": "100",
            "generated_answer": "90",
        },
        {"input_query": "Who painted the Mona Lisa?", "expected_answer": "Leonardo", "generated_answer": "Not sure"},
        {"input_query": "Tallest mountain?", "expected_answer": "Everest", "generated_answer": "Everest"},
        {"input_query": "Speed of light?", "expected_answer": "299792458 m/s", "generated_answer": "fast"},
    ]
    scripted.respond = judge_by_question(
        {
            "Hamlet": "A",
            "Boiling": "B: INCORRECT",
            "Mona Lisa": "C",
            "Tallest": "Grade: A",
            "Speed of light": "I think the predicted answer is CORRECT",
        }
    )
    # the 0.2 SDK's params shape, changing only the judge: the default function's template and regexes stay
    sdk_params = {"type": "llm_as_judge", "judge_model": JUDGE, "judge_score_regexes": [], "aggregation_functions": []}
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        listed = {f["identifier"]: f for f in (await client.get("/v1/scoring-functions")).json()["data"]}
        result = (await score(client, rows, {SIMPLEQA: sdk_params}))[SIMPLEQA]
    assert {BASE, SIMPLEQA} <= set(listed) and listed[SIMPLEQA]["return_type"] == {"type": "string"}
    assert [r["score"] for r in result["score_rows"]] == ["A", "B", "C", "A", None]
    garbage = result["score_rows"][4]
    assert garbage == {
        "score": None,
        "error": "the judge's reply matches none of judge_score_regexes",
        "judge_feedback": "I think the predicted answer is CORRECT",
    }
    assert result["score_rows"][1] == {"score": "B", "judge_feedback": "B: INCORRECT"}
    assert result["aggregated_results"] == {"categorical_count": {"A": 2, "B": 1, "C": 1, "error": 1}, "num_errors": 1}
    boiling = next(sent_prompt(r) for r in scripted.requests if "Boiling" in sent_prompt(r))
    assert boiling == SIMPLEQA_TEMPLATE.format(**rows[1])
    assert boiling.endswith(
        "Question: Boiling point of water at sea level in C?\nGold target: 100\nPredicted answer: 90\n\n"
        "Reply with one letter, A, B or C, and nothing else."
    )


async def test_a_failing_or_slow_judge_is_an_error_row_and_the_other_rows_go_on(tmp_path, scripted):
    leaked = "sk-proj-abcdefghijklmnop1234"
    scripted.respond = judge_by_question(
        {
            "Capital of France?": "Score: 5",
            "2+2?": Reply(status=500, json={"error": {"message": f"engine died (key {leaked})"}}),
            "Largest ocean?": Reply(json=chat_completion("Score: 4"), delay=1.2),
        }
    )
    config = run_config(tmp_path, scripted, judge_config={"judge_timeout_seconds": 0.3})
    async with judge_stack(config) as client:
        await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))
        started = time.monotonic()
        result = (
            await score(
                client,
                ROWS,
                {
                    "rubric": {
                        "type": "llm_as_judge",
                        "judge_model": JUDGE,
                        "aggregation_functions": ["average", "accuracy"],
                    }
                },
            )
        )["rubric"]
        took = time.monotonic() - started
    ok, failed, slow = result["score_rows"]
    assert ok == {"score": "5", "judge_feedback": "Score: 5"}
    assert failed["score"] is None and failed["judge_feedback"] is None
    assert failed["error"].startswith(f"judge '{JUDGE}' failed: ") and "engine died" in failed["error"]
    assert leaked not in failed["error"] and "********" in failed["error"]
    assert slow == {"score": None, "error": f"judge '{JUDGE}' did not answer within 0.3 s", "judge_feedback": None}
    assert took < 1.1
    # errors count as 0 in the numeric aggregations, never skipped
    assert result["aggregated_results"] == {
        "average": 5 / 3,
        "accuracy": 0.0,
        "num_correct": 0,
        "num_total": 3,
        "num_errors": 2,
    }


async def test_json_verdicts_with_a_score_map_and_plain_numbers(tmp_path, scripted):
    rows = [{"input_query": q, "generated_answer": "x"} for q in ("one", "two", "three", "four", "five")]
    scripted.respond = judge_by_question(
        {
            "Q: one": 'Sure.\n```json\n{"verdict": {"label": "pass"}, "why": "ok"}\n```',
            "Q: two": '{"verdict": {"label": "fail"}}',
            "Q: three": '{"verdict": {"label": "maybe"}}',
            "Q: four": "I refuse to answer in JSON.",
            "Q: five": '{"verdict": {"label": "pass"}}',
        }
    )
    template = 'Q: {input_query}\nA: {generated_answer}\nAnswer as {{"verdict": {{"label": "pass" or "fail"}}}}.'
    mapped = register_body(
        "json-judge",
        judge_model=JUDGE,
        prompt_template=template,
        verdict_format="json",
        json_score_field="verdict.label",
        score_map={"pass": 1, "fail": 0},
        max_tokens=64,
    )
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        created = await client.post("/v1/scoring-functions", json=mapped)
        assert created.status_code == 200, created.text
        result = (await score(client, rows, {"json-judge": None}))["json-judge"]
    assert [r["score"] for r in result["score_rows"]] == [1.0, 0.0, None, None, 1.0]
    assert result["score_rows"][2]["error"] == "verdict 'maybe' is not in score_map ('pass', 'fail')"
    assert result["score_rows"][3] == {
        "score": None,
        "error": "the judge's reply holds no JSON object",
        "judge_feedback": "I refuse to answer in JSON.",
    }
    assert result["aggregated_results"] == {"average": 0.4, "num_errors": 2}  # score_map: average by default
    first = next(r for r in scripted.requests if "Q: one" in sent_prompt(r))
    assert first.json["max_tokens"] == 64
    assert sent_prompt(first) == 'Q: one\nA: x\nAnswer as {"verdict": {"label": "pass" or "fail"}}.'


async def test_base_function_with_request_params_and_a_json_number_score(tmp_path, scripted):
    scripted.respond = judge_by_question({"Capital": '{"score": 4.5}', "2+2": '{"score": 1}', "ocean": '{"score": 3}'})
    params = {
        "type": "llm_as_judge",
        "judge_model": "vllm/judge-70b",  # a provider's model, unregistered: resolved through the inference router
        "prompt_template": "Rate 1-5: {input_query} -> {generated_answer}",
        "verdict_format": "json",
        "aggregation_functions": ["median"],
    }
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        result = (await score(client, ROWS, {BASE: params}))[BASE]
    assert [r["score"] for r in result["score_rows"]] == [4.5, 1, 3]
    assert result["aggregated_results"] == {"median": 3.0}
    assert {r.json["model"] for r in scripted.requests} == {UPSTREAM_JUDGE}


async def test_null_column_is_an_error_row_without_a_judge_call(tmp_path, scripted):
    scripted.respond = judge_by_question({"Capital of France?": "Score: 5"})
    rows = [ROWS[0], {**ROWS[1], "generated_answer": None}]
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))
        result = (await score(client, rows, {"rubric": None}))["rubric"]
    assert result["score_rows"][1] == {
        "score": None,
        "error": "the row's 'generated_answer' is null: nothing to judge",
        "judge_feedback": None,
    }
    assert len(scripted.requests) == 1


async def test_rows_are_judged_concurrently_within_the_bound(tmp_path, scripted):
    delay = 0.4
    arrivals: list[float] = []

    def respond(request: RecordedRequest) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(json=chat_completion("Score: 3"), delay=delay)

    scripted.respond = respond
    rows = [{**ROWS[0], "input_query": f"q{i}"} for i in range(6)]
    config = run_config(tmp_path, scripted, judge_config={"max_concurrent_judgements": 2})
    async with judge_stack(config) as client:
        await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))
        result = (await score(client, rows, {"rubric": None}))["rubric"]
    assert [r["score"] for r in result["score_rows"]] == ["3"] * 6
    arrivals.sort()
    # a judge call starts only when one of the two before it has finished (its reply takes `delay`) ...
    assert all(later - earlier >= delay * 0.95 for earlier, later in zip(arrivals, arrivals[2:], strict=False))
    # ... and two do run at once
    assert arrivals[1] - arrivals[0] < delay


async def test_bad_params_are_refused_at_register_time(tmp_path, scripted):
    models = [
        {
            "model_id": "embedder",
            "provider_id": "vllm",
            "provider_model_id": "e5",
            "model_type": "embedding",
            "metadata": {"embedding_dimension": 8},
        }
    ]
    cases = {
        "unknown-model": ({**RUBRIC_JUDGE, "judge_model": "no-such-model"}, "judge_model: Model 'no-such-model'"),
        "embedding-model": ({**RUBRIC_JUDGE, "judge_model": "embedder"}, "judge_model 'embedder' is an embedding"),
        "bad-placeholder": ({**RUBRIC_JUDGE, "prompt_template": "{question}"}, "unknown placeholder {question}"),
        "no-group": ({**RUBRIC_JUDGE, "judge_score_regexes": ["Score: \\d"]}, "has 0 capturing groups"),
        "bad-regex": ({**RUBRIC_JUDGE, "judge_score_regexes": ["Score: (\\d"]}, "does not compile"),
        "bad-aggregation": ({**RUBRIC_JUDGE, "aggregation_functions": ["sum"]}, "aggregation_functions.0"),
        "unknown-param": ({**RUBRIC_JUDGE, "temperature": 1}, "temperature: unknown param"),
        "json-and-regex": ({**RUBRIC_JUDGE, "verdict_format": "json"}, "judge_score_regexes are for verdict_format"),
    }
    async with judge_stack(run_config(tmp_path, scripted, models=models)) as client:
        for fn_id, (params, expected) in cases.items():
            response = await client.post("/v1/scoring-functions", json=register_body(fn_id, **params))
            assert response.status_code == 400, (fn_id, response.text)
            message = response.json()["error"]["message"]
            assert expected in message, (fn_id, message)
            assert (await client.get(f"/v1/scoring-functions/{fn_id}")).status_code == 404
        wrong_type = await client.post(
            "/v1/scoring-functions", json={**register_body("basic-type"), "params": {"type": "basic"}}
        )
        assert wrong_type.status_code == 400 and "type: Input should be 'llm_as_judge'" in wrong_type.text
        first = await client.post(
            "/v1/scoring-functions", json={**register_body("one", **RUBRIC_JUDGE), "provider_scoring_fn_id": "shared"}
        )
        same = await client.post(
            "/v1/scoring-functions", json={**register_body("two", **RUBRIC_JUDGE), "provider_scoring_fn_id": "shared"}
        )
        other = await client.post(
            "/v1/scoring-functions",
            json={**register_body("three", **RUBRIC_JUDGE, max_tokens=5), "provider_scoring_fn_id": "shared"},
        )
        partial = await client.post(
            "/v1/scoring-functions", json=register_body("template-only", prompt_template=RUBRIC)
        )
    assert first.status_code == 200 and same.status_code == 200, (first.text, same.text)
    assert other.status_code == 400 and "provider_scoring_fn_id 'shared' with other params" in other.text
    assert partial.status_code == 200, partial.text  # the judge and regexes may come with each score request
    assert scripted.requests == []


async def test_bad_score_requests_are_4xx_before_any_judge_call(tmp_path, scripted):
    async with judge_stack(run_config(tmp_path, scripted)) as client:
        await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))

        async def post(functions: dict[str, Any], rows: list[dict[str, Any]] = ROWS) -> Any:
            return await client.post("/v1/scoring/score", json={"input_rows": rows, "scoring_functions": functions})

        bare_base = await post({BASE: None})
        no_template = await post({BASE: {"type": "llm_as_judge", "judge_model": JUDGE}})
        simpleqa_without_judge = await post({SIMPLEQA: None})
        basic_params = await post({"rubric": {"type": "basic", "aggregation_functions": ["average"]}})
        bad_override = await post({"rubric": {"type": "llm_as_judge", "judge_model": JUDGE, "prompt_template": "{x}"}})
        unknown_judge = await post({"rubric": {"type": "llm_as_judge", "judge_model": "ghost"}})
        missing_column = await post({"rubric": None}, [ROWS[0], {"input_query": "q", "expected_answer": "e"}])
        unknown_function = await post({"no-such-fn": None})
    assert bare_base.status_code == 400
    assert f"scoring function '{BASE}' needs params judge_model, prompt_template, judge_score_regexes" in bare_base.text
    assert no_template.status_code == 400 and "needs params prompt_template, judge_score_regexes" in no_template.text
    assert simpleqa_without_judge.status_code == 400 and "needs params judge_model:" in simpleqa_without_judge.text
    assert basic_params.status_code == 400 and "params have type llm_as_judge, not basic" in basic_params.text
    assert bad_override.status_code == 400 and "prompt_template: unknown placeholder {x}" in bad_override.text
    assert unknown_judge.status_code == 400 and "judge_model: Model 'ghost'" in unknown_judge.text
    assert missing_column.status_code == 400
    error = missing_column.json()["error"]
    assert error["param"] == "input_rows[1].generated_answer" and "has no 'generated_answer'" in error["message"]
    assert unknown_function.status_code == 404 and "no-such-fn" in unknown_function.text
    assert scripted.requests == []


async def test_unregistered_function_is_gone_and_the_default_judge_model_applies(tmp_path, scripted):
    scripted.respond = judge_by_question({"Capital": "A", "2+2": "B", "ocean": "A"})
    config = run_config(tmp_path, scripted, judge_config={"default_judge_model": JUDGE})
    async with judge_stack(config) as client:
        result = (await score(client, ROWS, {SIMPLEQA: None}))[SIMPLEQA]
        await client.post("/v1/scoring-functions", json=register_body("rubric", **RUBRIC_JUDGE))
        assert (await client.delete("/v1/scoring-functions/rubric")).status_code in (200, 204)
        gone = await client.post("/v1/scoring/score", json={"input_rows": ROWS, "scoring_functions": {"rubric": None}})
    assert result["aggregated_results"] == {"categorical_count": {"A": 2, "B": 1}}
    assert gone.status_code == 404


async def test_a_judge_model_removed_later_is_named_at_score_time_and_after_a_restart(tmp_path, scripted):
    config = run_config(tmp_path, scripted)
    request = {"input_rows": ROWS, "scoring_functions": {"rubric": None}}
    async with judge_stack(config) as client:
        model = {"model_id": "temp-judge", "provider_id": "vllm", "provider_model_id": UPSTREAM_JUDGE}
        assert (await client.post("/v1/models", json=model)).status_code == 200
        body = register_body("rubric", **{**RUBRIC_JUDGE, "judge_model": "temp-judge"})
        assert (await client.post("/v1/scoring-functions", json=body)).status_code == 200
        assert (await client.delete("/v1/models/temp-judge")).status_code in (200, 204)
        after_delete = await client.post("/v1/scoring/score", json=request)
    async with judge_stack(config) as client:  # the stored function is loaded again at start-up, and refused
        listed = [f["identifier"] for f in (await client.get("/v1/scoring-functions")).json()["data"]]
        after_restart = await client.post("/v1/scoring/score", json=request)
    assert after_delete.status_code == 400
    assert "scoring function 'rubric': judge_model: Model 'temp-judge'" in after_delete.json()["error"]["message"]
    assert "rubric" in listed and after_restart.status_code == 400
    message = after_restart.json()["error"]["message"]
    assert message.startswith("scoring function 'rubric' is not loaded: ") and "'temp-judge'" in message
    assert scripted.requests == []


async def test_a_default_judge_model_that_is_not_served_stops_the_start(tmp_path, scripted):
    from llama_stack_core.errors import ConfigError

    config = run_config(tmp_path, scripted, judge_config={"default_judge_model": "missing"})
    with pytest.raises(ConfigError, match="inline::llm-as-judge default_judge_model: Model 'missing'"):
        async with judge_stack(config):
            pass


async def test_the_llama_stack_client_0_2_registers_and_scores(tmp_path, scripted):
    sdk = pytest.importorskip("llama_stack_client")
    scripted.respond = judge_by_question({"Capital": '{"grade": "good"}', "2+2": '{"grade": "bad"}', "ocean": "?"})
    async with judge_stack(run_config(tmp_path, scripted)) as http:
        client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
        await client.scoring_functions.register(
            scoring_fn_id="graded",
            description="good/bad judge",
            return_type={"type": "number"},
            provider_id="llm-as-judge",
            params={
                "type": "llm_as_judge",
                "judge_model": JUDGE,
                "prompt_template": "Grade {generated_answer} for {input_query} as JSON.",
                "judge_score_regexes": [],
                "aggregation_functions": ["average"],
                "verdict_format": "json",
                "json_score_field": "grade",
                "score_map": {"good": 1, "bad": 0},
            },
        )
        fetched = await client.scoring_functions.retrieve("graded")
        answer = await client.scoring.score(input_rows=ROWS, scoring_functions={"graded": None})
    assert fetched.params.judge_model == JUDGE
    result = answer.results["graded"]
    assert [row["score"] for row in result.score_rows] == [1.0, 0.0, None]
    assert result.aggregated_results == {"average": 1 / 3, "num_errors": 1}


# -- the core's resource-lifecycle kit for scoring functions on this provider -------------------------------------------


class TestJudgeFunctionLifecycle(ResourceLifecycleTests):
    api = "scoring"
    provider_type = PROVIDER_TYPE
    resource_type = "scoring_function"
    register_body = {
        "scoring_fn_id": "kit-judge",
        "description": "a rubric judge",
        "return_type": {"type": "number"},
        "params": {"type": "llm_as_judge", **RUBRIC_JUDGE},
    }
    supporting_providers = {
        "inference": [
            {
                "provider_id": "vllm",
                "provider_type": "remote::vllm",
                "config": {"base_url": "http://127.0.0.1:9/v1", "refresh_models": False},
            }
        ]
    }
    supporting_resources = {"models": [{"model_id": JUDGE, "provider_id": "vllm", "provider_model_id": "m"}]}
    extra_plugins = [plugin, vllm_plugin]
