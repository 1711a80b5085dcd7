"""The built-in functions: their ids, descriptions and default params (registered as the plugin's defaults). Imported
by plugin.py: the core's models only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llama_stack_core.apis.resources import RegisterScoringFunctionRequest, ReturnType

EQUALITY = "basic::equality"
SUBSET_OF = "basic::subset_of"
MULTIPLE_CHOICE = "basic::regex_parser_multiple_choice_answer"
MATH = "basic::regex_parser_math_response"
IFEVAL = "basic::ifeval"

#: Words for "answer" in the languages of multilingual multiple-choice benchmarks (MMLU's translations and others).
ANSWER_WORDS = (
    "answer",
    "final answer",
    "réponse",
    "respuesta",
    "resposta",
    "risposta",
    "antwort",
    "antwoord",
    "odpowiedź",
    "ответ",
    "відповідь",
    "cevap",
    "jawaban",
    "jibu",
    "ìdáhùn",
    "đáp án",
    "答案",
    "答え",
    "解答",
    "回答",
    "정답",
    "답변",
    "답",
    "الإجابة",
    "उत्तर",
    "উত্তর",
)

#: "Answer: B" in any of those languages (a full-width colon too, "answer is B", the letter maybe in parentheses or
#: bold); a word that merely starts with a letter ("Answer: Because ...") is not an answer.
MULTIPLE_CHOICE_REGEX = (
    r"(?i)(?:"
    + "|".join(ANSWER_WORDS)
    + r")(?:\s*\**\s*[:\uff1a]|\s+is)\s*\**\s*\(?\s*([A-J\uff21-\uff2a\u0623\u0628\u062c\u062f])(?![A-Za-z])"
)


@dataclass(frozen=True)
class Function:
    identifier: str
    description: str
    return_type: str
    params: dict[str, Any]


FUNCTIONS = {
    f.identifier: f
    for f in (
        Function(
            EQUALITY,
            "1 if generated_answer equals expected_answer exactly, else 0.",
            "number",
            {"type": "basic", "aggregation_functions": ["accuracy"]},
        ),
        Function(
            SUBSET_OF,
            "1 if expected_answer is contained in generated_answer, else 0.",
            "number",
            {"type": "basic", "aggregation_functions": ["accuracy"]},
        ),
        Function(
            MULTIPLE_CHOICE,
            "The choice letter after 'Answer:' (in 26 languages, or the params' parsing_regexes: the first that "
            "matches, its first group) compared with expected_answer: 1 or 0.",
            "number",
            {"type": "regex_parser", "parsing_regexes": [MULTIPLE_CHOICE_REGEX], "aggregation_functions": ["accuracy"]},
        ),
        Function(
            MATH,
            "The final answer of a worked solution (the last \\boxed{...}, else 'the answer is ...'), normalised "
            "(LaTeX, units, thousands separators) and compared with expected_answer, numerically when both are "
            "numbers: 1 or 0.",
            "number",
            {"type": "regex_parser", "parsing_regexes": [], "aggregation_functions": ["accuracy"]},
        ),
        Function(
            IFEVAL,
            "The fraction of the row's instruction_id_list (IFEval ids, their kwargs) the answer follows; weighted "
            "by the number of instructions.",
            "number",
            {"type": "basic", "aggregation_functions": ["weighted_average"]},
        ),
    )
}


def default_functions() -> list[RegisterScoringFunctionRequest]:
    return [
        RegisterScoringFunctionRequest(
            scoring_fn_id=f.identifier,
            description=f.description,
            return_type=ReturnType(type=f.return_type),
            params=f.params,
        )
        for f in FUNCTIONS.values()
    ]
