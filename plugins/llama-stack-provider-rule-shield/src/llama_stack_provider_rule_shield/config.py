"""Configuration of ``inline::rule-shield``: rules, detectors, levels and redaction; also the shape of shield params.

Imported by plugin.py, so it stays light: pydantic and the standard library only. User regexes are compiled (with
the ``regex`` module) only when a shield is built, in engine.py; here they are only checked to compile.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROVIDER_TYPE = "inline::rule-shield"
#: The provider's own name for the shield that is the provider config unchanged (the default shield).
DEFAULT_SHIELD = "default"

ViolationLevel = Literal["info", "warn", "error"]
LEVEL_RANK: dict[str, int] = {"info": 0, "warn": 1, "error": 2}

#: Built-in categories, with the mask redaction puts in place of what they found (None: never masked).
BUILTIN_CATEGORIES: dict[str, str | None] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "payment_card": "[CARD]",
    "iban": "[IBAN]",
    "api_key": "[API_KEY]",
    "private_key": "[PRIVATE_KEY]",
    "high_entropy": "[SECRET]",
    "prompt_injection": None,
}

_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeywordRule(_Strict):
    """Words or phrases matched literally."""

    name: str = Field(pattern=_NAME, description="Rule name, reported in findings.")
    category: str | None = Field(default=None, pattern=_NAME, description="Category it reports (default: name).")
    keywords: list[str] = Field(min_length=1, description="Words or phrases; any one matches.")
    case_insensitive: bool = True
    whole_word: bool = Field(default=True, description="Match only where no word character touches either end.")

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, keywords: list[str]) -> list[str]:
        if any(not k.strip() for k in keywords):
            raise ValueError("keywords must not be blank")
        return keywords


class RegexRule(_Strict):
    """A regular expression (``regex`` module syntax), run with a time limit (see ``regex_timeout_ms``)."""

    name: str = Field(pattern=_NAME)
    category: str | None = Field(default=None, pattern=_NAME)
    pattern: str = Field(min_length=1)
    case_insensitive: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        import regex  # the pure-Python part is cheap; only loaded when a config has regex rules

        try:
            compiled = regex.compile(pattern)
        except regex.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.search("") is not None:
            raise ValueError("the pattern matches the empty string")
        return pattern


class PIIConfig(_Strict):
    """Which built-in detectors run."""

    email: bool = True
    phone: bool = True
    payment_card: bool = Field(default=True, description="13-19 digit numbers that pass the Luhn check.")
    iban: bool = Field(default=True, description="IBANs of a known country's length that pass the mod-97 check.")
    api_key: bool = Field(
        default=True, description="Keys by well-known prefix: sk-, ghp_/gho_/..., github_pat_, AKIA/ASIA, xox?-, AIza."
    )
    private_key: bool = Field(default=True, description="PEM private-key blocks (-----BEGIN ... PRIVATE KEY-----).")
    high_entropy: bool = Field(default=True, description="Long random-looking tokens (letters and digits).")
    entropy_threshold: float = Field(default=4.0, ge=1.0, le=8.0, description="Shannon bits per character.")
    entropy_min_length: int = Field(default=32, ge=12, le=4096, description="Shortest token the entropy check sees.")


class InjectionConfig(_Strict):
    """The prompt-injection heuristic: each phrase family found adds its weight; flagged when the sum (capped at
    1.0) reaches ``threshold``."""

    enabled: bool = True
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    extra_phrases: dict[str, float] = Field(
        default_factory=dict,
        description="More phrases (literal, case-insensitive, any whitespace between words) -> weight in (0, 1].",
    )

    @field_validator("extra_phrases")
    @classmethod
    def _weights(cls, phrases: dict[str, float]) -> dict[str, float]:
        for phrase, weight in phrases.items():
            if not phrase.split():
                raise ValueError("injection phrases must not be blank")
            if not 0.0 < weight <= 1.0:
                raise ValueError(f"weight of '{phrase}' must be in (0, 1]")
        return phrases


class RuleShieldConfig(_Strict):
    """A rule shield. The provider config is the default shield; a shield's ``params`` are merged over it."""

    keywords: list[KeywordRule] = Field(default_factory=list)
    regexes: list[RegexRule] = Field(default_factory=list)
    pii: PIIConfig = Field(default_factory=PIIConfig)
    prompt_injection: InjectionConfig = Field(default_factory=InjectionConfig)
    default_violation_level: ViolationLevel = "error"
    violation_levels: dict[str, ViolationLevel] = Field(
        default_factory=dict, description="Category -> violation level (others get default_violation_level)."
    )
    redact: bool = Field(default=False, description="Put the masked text in the violation's metadata.")
    regex_timeout_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Time limit of all regex rules over one text; a rule cut short counts as found (fail closed).",
    )
    register_default_shield: bool = Field(
        default=True, description="Register a shield named like the provider id at start-up (provider config only)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> RuleShieldConfig:
        names = [rule.name for rule in (*self.keywords, *self.regexes)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        clashes = sorted({n for n in names if n in BUILTIN_CATEGORIES})
        if clashes:
            raise ValueError(f"rule names clash with built-in categories: {', '.join(clashes)}")
        return self

    def categories(self) -> list[str]:
        """Every category this shield can report, built-in ones first."""
        switched = self.pii.model_dump()
        found = [c for c in BUILTIN_CATEGORIES if switched.get(c, False)]
        if self.prompt_injection.enabled:
            found.append("prompt_injection")
        for rule in (*self.keywords, *self.regexes):
            category = rule.category or rule.name
            if category not in found:
                found.append(category)
        return found

    def level(self, category: str) -> ViolationLevel:
        return self.violation_levels.get(category, self.default_violation_level)

    def merged(self, params: dict[str, Any] | None) -> RuleShieldConfig:
        """This config with ``params`` merged over it (nested objects merged, lists replaced), validated."""
        if not params:
            return self
        base = self.model_dump(mode="python", exclude_unset=False)
        return RuleShieldConfig.model_validate(_merge(base, params))

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {
            "redact": "${env.RULE_SHIELD_REDACT:=false}",
            "default_violation_level": "error",
            "keywords": [],
        }


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
