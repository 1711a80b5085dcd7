"""The built-in detectors: their patterns and the checks a candidate must pass (Luhn, IBAN mod-97, entropy ...).

Every pattern here is linear-time by construction: it may only start where a lookbehind says a token starts, and
every repetition is either bounded or a single character class followed by a lookahead on its complement, so a
failed candidate costs at most a bounded number of steps. engine.py joins them into one alternation.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# -- checks ----------------------------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check digit test payment card numbers pass."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if i % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


#: IBAN length by country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(candidate: str) -> bool:
    """Known country, that country's length, and the ISO 7064 mod-97 check (remainder 1)."""
    iban = candidate.replace(" ", "")
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def shannon_entropy(text: str) -> float:
    """Bits per character of the text's own character distribution."""
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


_PHONE_IP = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def phone_valid(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if candidate.startswith("+"):
        return 8 <= digits <= 15
    return 10 <= digits <= 15 and _PHONE_IP.fullmatch(candidate) is None


def card_valid(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits[0] != "0" and len(set(digits)) > 1 and luhn_valid(digits)


def email_valid(candidate: str) -> bool:
    local, _, domain = candidate.rpartition("@")
    tld = domain.rsplit(".", 1)[-1]
    return not local.startswith(".") and not local.endswith(".") and tld.isalpha() and len(tld) >= 2


def entropy_check(threshold: float) -> Callable[[str], bool]:
    def valid(candidate: str) -> bool:
        token = candidate.rstrip("=")
        has_digit = any(c.isdigit() for c in token)
        has_letter = any(c.isalpha() for c in token)
        return has_digit and has_letter and shannon_entropy(token) >= threshold

    return valid


# -- patterns --------------------------------------------------------------------------------------------------------
# Each pattern is one branch of an alternation that follows a separator (a character that is not an ASCII letter or
# digit, consumed just before the branch). It must begin with a literal or a character class, so the regex engine
# rejects the branch on its first character; which separators a detector refuses is checked in Python.


@dataclass(frozen=True)
class Detector:
    """One branch of a combined pattern."""

    category: str
    rule: str
    pattern: str
    mask: str | None = None
    check: Callable[[str], bool] | None = None
    not_after: str = ""  # separators it may not follow (besides letters and digits)
    not_after_word: bool = False  # nor any word character (unicode letters, '_')
    weight: float = 1.0  # prompt-injection phrases: what the phrase adds to the score
    case_insensitive: bool = False

    def branch(self) -> str:
        """The pattern with its separator check after its first character (a lookbehind over the separator and that
        character): the branch still starts with a literal or a class, and a token that starts after a refused
        separator is dropped in one step, never scanned to its end."""
        refused = "".join("\\" + c if c in "\\]^-" else c for c in self.not_after)
        if self.not_after_word:
            refused += r"\w"
        if not refused:
            return self.pattern
        cut = _first_atom_length(self.pattern)
        return f"{self.pattern[:cut]}(?<![{refused}].){self.pattern[cut:]}"


def _first_atom_length(pattern: str) -> int:
    """Length of the pattern's first atom: a character class, an escaped character or one character."""
    if pattern.startswith("\\"):
        return 2
    if not pattern.startswith("["):
        return 1
    i = 1
    while pattern[i] != "]" or i == 1:
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


EMAIL_NOT_AFTER = "._%+-_"
EMAIL = r"[A-Za-z0-9._%+\-_][A-Za-z0-9._%+\-_]{0,63}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}(?![A-Za-z0-9\-])"
#: international without separators; with a country code; with an area code in brackets; plain groups
PHONES: tuple[str, ...] = (
    r"\+[0-9]{8,15}(?![0-9])",
    r"\+[0-9]{1,3}[ .\-]?(?:\([0-9]{1,4}\)[ .\-]?)?[0-9]{2,4}(?:[ .\-][0-9]{2,4}){1,4}(?!\w)",
    r"\([0-9]{1,4}\)[ .\-]?[0-9]{2,4}(?:[ .\-][0-9]{2,4}){1,4}(?!\w)",
    r"[0-9]{2,4}(?:[ .\-][0-9]{2,4}){1,4}(?!\w)",
)
CARD = r"[1-9](?:[ \-]?[0-9]){12,18}(?![0-9])"
IBAN = r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
KEY_NOT_AFTER = "_-"
_KEY_END = r"(?![A-Za-z0-9_\-])"
API_KEYS: tuple[tuple[str, str], ...] = (
    ("openai_anthropic", r"sk-[A-Za-z0-9_\-]{20,}"),
    ("github", r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("github", r"github_pat_[A-Za-z0-9_]{40,}"),
    ("aws_access_key", r"AKIA[A-Z0-9]{16}"),
    ("aws_access_key", r"ASIA[A-Z0-9]{16}"),
    ("slack", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("google_api_key", r"AIza[A-Za-z0-9_\-]{35}"),
    ("stripe", r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
)
PRIVATE_KEY = r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----"
TOKEN_NOT_AFTER = "+/=_-"
_TOKEN = r"A-Za-z0-9+/_\-"


def api_key_pattern(pattern: str) -> str:
    return pattern + _KEY_END


def high_entropy_pattern(min_length: int) -> str:
    return rf"[{_TOKEN}][{_TOKEN}]{{{min_length - 1},}}={{0,2}}(?![{_TOKEN}=])"


#: Prompt-injection phrase families: (rule, weight, leading words, the rest). Matched on lower-cased text, any
#: whitespace between words; a family counts once however often it is found.
INJECTION_PHRASES: tuple[tuple[str, float, tuple[str, ...], str], ...] = (
    (
        "ignore_instructions",
        0.8,
        ("ignore", "disregard", "forget", "skip", "override", "bypass"),
        r"\s+(?:(?:all|any|the|your|my|of|these|those|everything)\s+){0,3}(?:previous|prior|above|earlier|"
        r"preceding|foregoing|former|original|system|safety)\s+(?:instructions?|prompts?|rules|directions|"
        r"guidelines|messages|context|constraints|polic(?:y|ies))\b",
    ),
    (
        "persona_override",
        0.8,
        ("you",),
        r"\s+are\s+now\s+(?:dan\b|an?\s+(?:unrestricted|unfiltered|uncensored|evil|jailbroken)\b|in\s+"
        r"(?:developer|god|dan)\s+mode\b|jailbroken\b|free\s+from\b)",
    ),
    ("do_anything_now", 0.6, ("do",), r"\s+anything\s+now\b"),
    (
        "system_prompt_exfiltration",
        0.8,
        ("reveal", "show", "print", "repeat", "output", "display", "leak", "dump", "tell", "give", "what"),
        r"(?:\s+(?:me|is|are|was|were))?\s+(?:your|the)\s+(?:(?:full|entire|exact|original|initial|hidden|secret)"
        r"\s+)?(?:system\s+(?:prompt|message|instructions?)|(?:initial|hidden|original|secret)\s+"
        r"(?:prompt|instructions?))\b",
    ),
    ("repeat_text_above", 0.6, ("repeat",), r"\s+(?:(?:the|all|every)\s+)?(?:words|text|lines)\s+above\b"),
    (
        "unrestricted_roleplay",
        0.6,
        ("pretend", "act"),
        r"\s+(?:that\s+)?(?:you\s+are|to\s+be|as)\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|evil|"
        r"jailbroken)\b",
    ),
    ("mode_switch", 0.4, ("dan", "developer", "god", "jailbreak"), r"\s+mode\b"),
    ("jailbreak", 0.4, ("jailbr",), r"(?:eak|oken|eaking)\b"),
    (
        "no_restrictions",
        0.3,
        ("without",),
        r"\s+(?:any\s+)?(?:restrictions|filters|limitations|censorship|guidelines)\b",
    ),
    ("new_instructions", 0.4, ("new",), r"\s+(?:system\s+)?instructions\s*:"),
    ("from_now_on", 0.3, ("from",), r"\s+now\s+on\s*,?\s+you\s+(?:will|are|must)\b"),
)


def phrase_pattern(phrase: str) -> str:
    """A literal phrase, any whitespace between its words."""
    return r"\s+".join(re.escape(word) for word in phrase.split())
