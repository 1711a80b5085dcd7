"""Every plugin hook has a docstring and is listed, with its arguments, in CONTRIBUTING.md's Hooks section."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from llama_stack_core import hookspecs

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def _hookspecs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(obj)
        for name, obj in vars(hookspecs).items()
        if callable(obj) and hasattr(obj, "llama_stack_spec")
    }


def _documented() -> dict[str, list[str]]:
    """``name -> argument names`` of the hook table rows (``| `name(args)` | ... |``) in the Hooks section."""
    text = CONTRIBUTING.read_text()
    section = text.split("\n## Hooks\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", section, flags=re.MULTILINE)
    return {name: [a.strip() for a in args.split(",") if a.strip()] for name, args in rows}


def test_hookspecs_are_found() -> None:
    assert len(_hookspecs()) >= 20
    assert "register_inference_providers" in _hookspecs()


def test_every_hook_has_a_docstring() -> None:
    missing = [name for name in _hookspecs() if not (inspect.getdoc(getattr(hookspecs, name)) or "").strip()]
    assert not missing, f"hooks without a docstring in hookspecs.py: {missing}"


def test_every_hook_is_documented_with_its_arguments() -> None:
    documented = _documented()
    missing = sorted(set(_hookspecs()) - set(documented))
    assert not missing, f"hooks missing from CONTRIBUTING.md's Hooks section: {missing}"
    stale = sorted(set(documented) - set(_hookspecs()))
    assert not stale, f"CONTRIBUTING.md documents hooks that hookspecs.py no longer has: {stale}"
    wrong = {name: args for name, args in documented.items() if args != list(_hookspecs()[name].parameters)}
    assert not wrong, f"CONTRIBUTING.md shows the wrong arguments for: {wrong}"
