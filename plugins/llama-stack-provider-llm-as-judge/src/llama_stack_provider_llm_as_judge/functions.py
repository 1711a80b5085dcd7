"""The plugin's default scoring functions: a generic judge and a SimpleQA-style grader. Imported by plugin.py: the
core's models only."""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.resources import RegisterScoringFunctionRequest, ReturnType

BASE = "llm-as-judge::base"
SIMPLEQA = "llm-as-judge::405b-simpleqa"

#: A grader for short factual answers in the manner of OpenAI's SimpleQA (written for this package): three grades,
#: answered as one letter.
SIMPLEQA_TEMPLATE = """\
You are grading an answer to a factual question. Compare the predicted answer with the gold target and give it one \
of three grades.

A: CORRECT. The predicted answer contains the information in the gold target and nothing that contradicts it. \
Wording, capitalisation, punctuation, word order and small spelling slips in a name do not matter, and hedging is \
fine as long as the gold target is stated. A number is correct when it agrees with the gold target to the gold \
target's last significant figure. Details the question already implies (a unit, a surname, a country) may be left \
out.
B: INCORRECT. The predicted answer states something that contradicts the gold target, even with hedging ("I think", \
"possibly"), or offers several candidates of which some are wrong.
C: NOT_ATTEMPTED. The predicted answer neither gives the gold target nor contradicts it: a refusal, a request for \
more context, a vague range, or partial information with no wrong statement.

Examples, all for the question "Which two planets of the solar system have no moons?" with the gold target \
"Mercury and Venus":
- "Venus and Mercury." is A
- "I believe it is Mercury and Venus, but I would double check." is A
- "Mercury and Mars." is B
- "Only Mercury has no moons." is B
- "Mercury has none; I am not sure about the other one." is C
- "I cannot look that up right now." is C

Now grade this one.
Question: {input_query}
Gold target: {expected_answer}
Predicted answer: {generated_answer}

Reply with one letter, A, B or C, and nothing else."""

#: The grade letter: the reply alone (maybe quoted or bold), "B: INCORRECT", or "Grade: C".
SIMPLEQA_REGEXES = [
    r"^\W*([ABC])\W*$",
    r"\b([ABC])\s*[:.)]\s*(?:CORRECT|INCORRECT|NOT[_ ]ATTEMPTED)\b",
    r"(?i:\b(?:grade|answer|verdict)\b)\W*(?:is\W+)?([ABC])\b",
]


def default_functions(judge_model: str | None) -> list[RegisterScoringFunctionRequest]:
    """The default functions; ``judge_model`` (the provider's ``default_judge_model``) goes into their params."""
    judge: dict[str, Any] = {"judge_model": judge_model} if judge_model else {}
    return [
        RegisterScoringFunctionRequest(
            scoring_fn_id=BASE,
            description="A generic LLM judge: a score request's params give judge_model, prompt_template and "
            "judge_score_regexes (or verdict_format json).",
            return_type=ReturnType(type="number"),
            params={"type": "llm_as_judge", **judge},
        ),
        RegisterScoringFunctionRequest(
            scoring_fn_id=SIMPLEQA,
            description="SimpleQA-style grading of a short factual answer against the expected one: A (correct), "
            "B (incorrect) or C (not attempted), counted per letter. Needs a judge_model.",
            return_type=ReturnType(type="string"),
            params={
                "type": "llm_as_judge",
                **judge,
                "prompt_template": SIMPLEQA_TEMPLATE,
                "judge_score_regexes": SIMPLEQA_REGEXES,
                "aggregation_functions": ["categorical_count"],
            },
        ),
    ]
