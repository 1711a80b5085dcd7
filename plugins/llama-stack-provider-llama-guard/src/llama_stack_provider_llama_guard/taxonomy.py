"""Llama Guard 3's hazard taxonomy (S1..S14) and how each code maps to OpenAI's moderation categories.

Imported by config.py, so it stays free of anything but the standard library.
"""

from __future__ import annotations

#: Llama Guard 3's categories, in the order and with the names the model was trained on.
CATEGORIES: dict[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex Crimes",
    "S4": "Child Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}

#: OpenAI's moderation categories (``omni-moderation``); every moderation result carries each of them.
OPENAI_CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

#: The moderation categories an S-code sets. Codes with no OpenAI counterpart set a category of their own (named
#: after the Llama Guard category), which results carry in addition to OpenAI's. README.md documents this table.
MODERATION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "S1": ("violence", "illicit/violent"),
    "S2": ("illicit",),
    "S3": ("sexual", "illicit"),
    "S4": ("sexual/minors",),
    "S5": ("defamation",),
    "S6": ("specialized-advice",),
    "S7": ("privacy",),
    "S8": ("intellectual-property",),
    "S9": ("violence", "illicit/violent"),
    "S10": ("hate",),
    "S11": ("self-harm",),
    "S12": ("sexual",),
    "S13": ("elections",),
    "S14": ("code-interpreter-abuse",),
}

#: Every key a moderation result's ``categories`` has: OpenAI's, then the Llama Guard-only ones.
ALL_MODERATION_CATEGORIES: tuple[str, ...] = OPENAI_CATEGORIES + tuple(
    dict.fromkeys(c for cats in MODERATION_CATEGORIES.values() for c in cats if c not in OPENAI_CATEGORIES)
)


def check_codes(codes: list[str]) -> list[str]:
    """Normalised S-codes (``s1`` -> ``S1``), or ValueError naming the unknown ones."""
    normal = [code.strip().upper() for code in codes]
    unknown = [code for code, up in zip(codes, normal, strict=True) if up not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown Llama Guard categories {unknown}; valid: S1..S14")
    return list(dict.fromkeys(normal))
