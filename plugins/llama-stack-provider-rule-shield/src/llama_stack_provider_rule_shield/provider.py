"""``inline::rule-shield``: a Safety provider that needs no model. Each shield is compiled once (at registration);
``run_shield`` and ``run_moderation`` scan the text of every message or input with it."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from typing import Any

from pydantic import ValidationError

from llama_stack_core.apis.common import SafetyViolation
from llama_stack_core.apis.resources import Shield
from llama_stack_core.apis.safety import (
    ModerationObject,
    ModerationRequest,
    ModerationResult,
    RunShieldRequest,
    RunShieldResponse,
    content_text,
)
from llama_stack_core.errors import BadRequestError, NotFoundError

from .config import DEFAULT_SHIELD, RuleShieldConfig
from .engine import CompiledShield, Finding, Scan

MAX_REPORTED_FINDINGS = 50
_CALL_PARAMS_CACHE = 32


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())


def message_text(message: Any) -> str:
    """The text a message carries: string content, the text parts of list content, and tool-call arguments."""
    text = content_text(getattr(message, "content", None))
    pieces = [text] if text else []
    for call in getattr(message, "tool_calls", None) or ():
        function = getattr(call, "function", None)
        arguments = getattr(function, "arguments", None) if function is not None else getattr(call, "arguments", None)
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments)
        if isinstance(arguments, str):
            pieces.append(arguments)
    return "\n".join(pieces)


class RuleShieldProvider:
    """Implements ``SafetyProvider``; told about shields through ``register_shield`` / ``unregister_shield``."""

    def __init__(self, config: RuleShieldConfig) -> None:
        self.config = config
        self.shields: dict[str, CompiledShield] = {DEFAULT_SHIELD: CompiledShield(config)}
        self._call_cache: OrderedDict[tuple[str, str], CompiledShield] = OrderedDict()

    # -- shields -------------------------------------------------------------------------------------------------

    async def register_shield(self, shield: Shield) -> None:
        try:
            effective = self.config.merged(shield.params)
        except ValidationError as exc:
            raise BadRequestError(f"invalid rule-shield params: {_validation_message(exc)}", param="params") from None
        self.shields[shield.provider_resource_id or shield.identifier] = CompiledShield(effective)

    async def unregister_shield(self, shield: Shield) -> None:
        name = shield.provider_resource_id or shield.identifier
        if name != DEFAULT_SHIELD:
            self.shields.pop(name, None)
        self._call_cache.clear()

    def shield(self, name: str | None, params: dict[str, Any] | None = None) -> CompiledShield:
        compiled = self.shields.get(name or DEFAULT_SHIELD)
        if compiled is None:
            raise NotFoundError(f"shield '{name}' is not registered with the rule shield provider")
        if not params:
            return compiled
        key = (name or DEFAULT_SHIELD, json.dumps(params, sort_keys=True, default=str))
        cached = self._call_cache.get(key)
        if cached is None:
            try:
                cached = CompiledShield(compiled.config.merged(params))
            except ValidationError as exc:
                raise BadRequestError(f"invalid params: {_validation_message(exc)}", param="params") from None
            self._call_cache[key] = cached
            if len(self._call_cache) > _CALL_PARAMS_CACHE:
                self._call_cache.popitem(last=False)
        return cached

    # -- SafetyProvider ------------------------------------------------------------------------------------------

    async def run_shield(self, request: RunShieldRequest) -> RunShieldResponse:
        shield = self.shield(request.shield_id, request.params)
        texts = [message_text(m) for m in request.messages]
        scans = [shield.scan(text) for text in texts]
        categories = sorted({c for scan in scans for c in scan.categories})
        if not categories:
            return RunShieldResponse(violation=None)
        metadata: dict[str, Any] = {
            "categories": categories,
            "findings": _reported(
                [{**f.public(), "message_index": i} for i, scan in enumerate(scans) for f in scan.findings]
            ),
        }
        _add_scores(metadata, scans, shield)
        if shield.config.redact:
            metadata["redacted_messages"] = [shield.redact(t, s.findings) for t, s in zip(texts, scans, strict=True)]
        return RunShieldResponse(
            violation=SafetyViolation(
                violation_level=shield.level(categories),  # type: ignore[arg-type]
                user_message=_user_message(categories),
                metadata=metadata,
            )
        )

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        shield = self.shield(request.model)
        inputs = [request.input] if isinstance(request.input, str) else list(request.input)
        results = [self._moderate(shield, item) for item in inputs]
        return ModerationObject(id=f"modr-{uuid.uuid4().hex}", model=request.model or DEFAULT_SHIELD, results=results)

    def _moderate(self, shield: CompiledShield, item: Any) -> ModerationResult:
        text = item if isinstance(item, str) else getattr(item, "text", None)
        if text is None:  # an image: nothing a rule shield can read
            return ModerationResult(
                flagged=False,
                categories=dict.fromkeys(shield.categories, False),
                category_scores=dict.fromkeys(shield.categories, 0.0),
                metadata={"skipped": "not text"},
            )
        scan = shield.scan(text)
        found = set(scan.categories)
        scores = {c: 1.0 if c in found else 0.0 for c in shield.categories}
        if "prompt_injection" in scores:
            scores["prompt_injection"] = scan.injection_score
        metadata: dict[str, Any] = {"findings": _reported([f.public() for f in scan.findings])}
        if scan.timed_out:
            metadata["timed_out_rules"] = scan.timed_out
        if found:
            metadata["violation_level"] = shield.level(sorted(found))
        if shield.config.redact:
            metadata["redacted_text"] = shield.redact(text, scan.findings)
        return ModerationResult(
            flagged=bool(found),
            categories={c: c in found for c in shield.categories},
            category_scores=scores,
            category_applied_input_types={c: ["text"] for c in found},
            user_message=_user_message(sorted(found)) if found else None,
            metadata=metadata,
        )


def _reported(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return findings[:MAX_REPORTED_FINDINGS]


def _add_scores(metadata: dict[str, Any], scans: list[Scan], shield: CompiledShield) -> None:
    if shield.config.prompt_injection.enabled:
        metadata["prompt_injection_score"] = max(scan.injection_score for scan in scans)
    timed_out = sorted({rule for scan in scans for rule in scan.timed_out})
    if timed_out:
        metadata["timed_out_rules"] = timed_out


def _user_message(categories: list[str]) -> str:
    return f"Blocked by the rule shield ({', '.join(categories)})."


def create_provider(config: RuleShieldConfig, deps: dict[Any, Any]) -> RuleShieldProvider:
    return RuleShieldProvider(config)


__all__ = ["Finding", "RuleShieldProvider", "create_provider", "message_text"]
