"""A shield compiled once from its config: one combined pattern for the built-in detectors, the injection phrases and
the keyword lists, plus the user's regex rules (``regex`` module, time-limited). ``scan`` finds, ``redact`` masks."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from .config import BUILTIN_CATEGORIES, LEVEL_RANK, RuleShieldConfig
from .detectors import (
    API_KEYS,
    CARD,
    EMAIL,
    EMAIL_NOT_AFTER,
    IBAN,
    INJECTION_PHRASES,
    KEY_NOT_AFTER,
    PHONES,
    PRIVATE_KEY,
    TOKEN_NOT_AFTER,
    Detector,
    api_key_pattern,
    card_valid,
    email_valid,
    entropy_check,
    high_entropy_pattern,
    iban_valid,
    phone_valid,
    phrase_pattern,
)


@dataclass(frozen=True)
class Finding:
    category: str
    rule: str
    start: int
    end: int
    mask: str | None

    def public(self) -> dict[str, Any]:
        """What a response may show: never the matched text."""
        return {"category": self.category, "rule": self.rule, "start": self.start, "end": self.end}


@dataclass
class Scan:
    """What one text holds: findings (injection phrases only when the score reached the threshold)."""

    findings: list[Finding] = field(default_factory=list)
    injection_score: float = 0.0
    timed_out: list[str] = field(default_factory=list)  # regex rules cut short (counted as found)

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.findings})


class _Pass:
    """One combined pattern over one form of the text (as written, or lower-cased): every branch follows a separator
    character, so the engine looks only at token starts and rejects most branches on their first character."""

    def __init__(self, detectors: list[Detector], *, lowered: bool, flags: int = 0) -> None:
        self.detectors = detectors
        self.lowered = lowered
        self.groups = {f"g{i}": d for i, d in enumerate(detectors)}
        # the group closing each branch is empty and last, so it does not hide the branch's first character
        branches = "|".join(f"{d.branch()}(?P<g{i}>)" for i, d in enumerate(detectors))
        prefix = "[^a-z0-9]" if lowered else "[^A-Za-z0-9]"
        self.pattern = re.compile(f"{prefix}(?:{branches})", flags)
        self.singles = [(name, re.compile(f"{prefix}(?:{d.branch()})", flags)) for name, d in self.groups.items()]


class CompiledShield:
    """One shield's rules, compiled. Reusable and thread-safe: compiled patterns only, no per-scan state."""

    def __init__(self, config: RuleShieldConfig) -> None:
        self.config = config
        self.categories = config.categories()
        detectors = self._builtin_detectors(config) + self._keyword_detectors(config)
        exact = [d for d in detectors if not d.case_insensitive]
        folded = [d for d in detectors if d.case_insensitive]
        self._exact = _Pass(exact, lowered=False) if exact else None
        self._folded = _Pass(folded, lowered=True) if folded else None
        # for texts whose lower-cased form has another length (a few non-ASCII letters): the same, case-folded
        self._folded_raw = _Pass(folded, lowered=True, flags=re.IGNORECASE) if folded else None
        self._substrings = self._substring_patterns(config)
        self._regexes = self._compile_regexes(config)
        self._timeout = config.regex_timeout_ms / 1000

    # -- compilation ---------------------------------------------------------------------------------------------

    @staticmethod
    def _builtin_detectors(config: RuleShieldConfig) -> list[Detector]:
        pii, found = config.pii, []
        mask = BUILTIN_CATEGORIES
        if pii.private_key:
            found.append(Detector("private_key", "pem_private_key", PRIVATE_KEY, mask["private_key"]))
        if pii.api_key:
            found += [
                Detector("api_key", rule, api_key_pattern(pattern), mask["api_key"], not_after=KEY_NOT_AFTER)
                for rule, pattern in API_KEYS
            ]
        if pii.email:
            found.append(Detector("email", "email", EMAIL, mask["email"], email_valid, not_after=EMAIL_NOT_AFTER))
        if pii.iban:
            found.append(Detector("iban", "iban", IBAN, mask["iban"], iban_valid))
        if pii.payment_card:
            found.append(Detector("payment_card", "luhn", CARD, mask["payment_card"], card_valid))
        if pii.phone:
            found += [
                Detector("phone", "phone", pattern, mask["phone"], phone_valid, not_after="+", not_after_word=True)
                for pattern in PHONES
            ]
        if pii.high_entropy:
            pattern = high_entropy_pattern(pii.entropy_min_length)
            check = entropy_check(pii.entropy_threshold)
            found.append(Detector("high_entropy", "entropy", pattern, mask["high_entropy"], check, TOKEN_NOT_AFTER))
        injection = config.prompt_injection
        if injection.enabled:
            phrases = [(rule, weight, lead, rest) for rule, weight, leads, rest in INJECTION_PHRASES for lead in leads]
            for phrase, weight in injection.extra_phrases.items():
                phrases.append((f"phrase:{phrase}", weight, "", phrase_pattern(phrase.lower()) + r"(?!\w)"))
            found += [
                Detector(
                    "prompt_injection",
                    rule,
                    re.escape(lead) + rest,
                    None,
                    not_after_word=True,
                    weight=weight,
                    case_insensitive=True,
                )
                for rule, weight, lead, rest in phrases
            ]
        return found

    @staticmethod
    def _keyword_detectors(config: RuleShieldConfig) -> list[Detector]:
        found = []
        for rule in config.keywords:
            if not rule.whole_word:
                continue
            category = rule.category or rule.name
            for keyword in sorted(set(rule.keywords), key=len, reverse=True):
                text = keyword.lower() if rule.case_insensitive else keyword
                found.append(
                    Detector(
                        category,
                        rule.name,
                        phrase_pattern(text) + r"(?!\w)",
                        f"[{category.upper()}]",
                        not_after_word=True,
                        case_insensitive=rule.case_insensitive,
                    )
                )
        return found

    @staticmethod
    def _substring_patterns(config: RuleShieldConfig) -> list[tuple[re.Pattern[str], str, str, bool]]:
        """Keyword rules that also match inside words: one literal alternation each."""
        compiled = []
        for rule in config.keywords:
            if rule.whole_word:
                continue
            words = sorted({phrase_pattern(k) for k in rule.keywords}, key=len, reverse=True)
            flags = re.IGNORECASE if rule.case_insensitive else 0
            compiled.append((re.compile("|".join(words), flags), rule.name, rule.category or rule.name, False))
        return compiled

    @staticmethod
    def _compile_regexes(config: RuleShieldConfig) -> list[tuple[Any, str, str]]:
        if not config.regexes:
            return []
        import regex

        compiled = []
        for rule in config.regexes:
            flags = regex.IGNORECASE if rule.case_insensitive else 0
            compiled.append((regex.compile(rule.pattern, flags), rule.name, rule.category or rule.name))
        return compiled

    # -- scanning ------------------------------------------------------------------------------------------------

    def scan(self, text: str) -> Scan:
        result = Scan()
        if not text:
            return result
        phrases: list[Finding] = []
        weights: dict[str, float] = {}
        if self._exact is not None:
            self._run(self._exact, " " + text, result.findings, phrases, weights)
        if self._folded is not None:
            lowered = text.lower()
            if len(lowered) == len(text):
                self._run(self._folded, " " + lowered, result.findings, phrases, weights)
            else:
                self._run(self._folded_raw, " " + text, result.findings, phrases, weights)
        if phrases:
            result.injection_score = round(min(1.0, sum(weights.values())), 4)
            if result.injection_score >= self.config.prompt_injection.threshold:
                result.findings += phrases
        for pattern, rule, category, _ in self._substrings:
            mask = f"[{category.upper()}]"
            result.findings += [Finding(category, rule, m.start(), m.end(), mask) for m in pattern.finditer(text)]
        if self._regexes:
            self._scan_regexes(text, result)
        return result

    def _run(
        self, scan: _Pass, text: str, findings: list[Finding], phrases: list[Finding], weights: dict[str, float]
    ) -> None:
        """One pass over ``text`` (the text after one separator character: offsets are shifted back by one)."""
        search, pos = scan.pattern.search, 0
        while (match := search(text, pos)) is not None:
            finding, detector = self._accept(scan, text, match)
            if finding is None:
                pos = match.end()  # a failed candidate (a number failing Luhn ...) is not searched again inside
            elif detector.category == "prompt_injection":
                phrases.append(finding)
                weights[detector.rule] = detector.weight
                pos = match.start() + 1  # a phrase may hold another phrase
            else:
                findings.append(finding)
                pos = finding.end + 1

    def _accept(self, scan: _Pass, text: str, match: re.Match[str]) -> tuple[Finding | None, Detector]:
        """A finding for this candidate, or for a later branch matching at the same place if its check fails."""
        group = match.lastgroup
        detector = scan.groups[group]
        finding = self._finding(text, detector, match.start(), match.end())
        if finding is not None:
            return finding, detector
        later = False
        for name, single in scan.singles:
            if later:
                other = single.match(text, match.start())
                if other is not None:
                    finding = self._finding(text, scan.groups[name], match.start(), other.end())
                    if finding is not None:
                        return finding, scan.groups[name]
            later = later or name == group
        return None, detector

    @staticmethod
    def _finding(text: str, detector: Detector, separator: int, end: int) -> Finding | None:
        """``text`` is shifted by one; the finding's offsets are in the original text."""
        start = separator + 1
        if detector.check is not None and not detector.check(text[start:end]):
            return None
        if detector.category == "private_key":  # the block runs to its END line (or the end of the text)
            closing = text.find("-----END", end)
            if closing < 0:
                end = len(text)
            else:
                tail = text.find("-----", closing + 8)
                end = len(text) if tail < 0 else tail + 5
        return Finding(detector.category, detector.rule, start - 1, end - 1, detector.mask)

    def _scan_regexes(self, text: str, result: Scan) -> None:
        deadline = time.monotonic() + self._timeout
        for pattern, rule, category in self._regexes:
            mask = f"[{category.upper()}]"
            try:
                remaining = max(deadline - time.monotonic(), 0.001)
                for match in pattern.finditer(text, timeout=remaining):
                    if match.end() > match.start():
                        result.findings.append(Finding(category, rule, match.start(), match.end(), mask))
            except TimeoutError:
                result.timed_out.append(rule)
                result.findings.append(Finding(category, rule, 0, 0, None))

    # -- results -------------------------------------------------------------------------------------------------

    def level(self, categories: list[str]) -> str:
        return max((self.config.level(c) for c in categories), key=LEVEL_RANK.__getitem__, default="info")

    @staticmethod
    def redact(text: str, findings: list[Finding]) -> str:
        """The text with every maskable finding replaced by its mask (overlaps merged, the first mask kept)."""
        spans = sorted((f for f in findings if f.mask and f.end > f.start), key=lambda f: (f.start, -f.end))
        pieces, cursor = [], 0
        for finding in spans:
            if finding.end <= cursor:
                continue
            if finding.start < cursor:  # overlaps the previous mask: extend it
                cursor = finding.end
                continue
            pieces += [text[cursor : finding.start], finding.mask]
            cursor = finding.end
        pieces.append(text[cursor:])
        return "".join(pieces)
