"""``inline::llama-guard``: shields that ask a Llama Guard model, through the stack's Inference API, whether the last
turn of a conversation is safe; moderations classify each input as a user turn."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from llama_stack_core.apis.common import SafetyViolation
from llama_stack_core.apis.inference import ChatCompletion, ChatCompletionRequest, UserMessage
from llama_stack_core.apis.resources import Shield
from llama_stack_core.apis.routes import Api
from llama_stack_core.apis.safety import (
    ModerationObject,
    ModerationRequest,
    ModerationResult,
    RunShieldRequest,
    RunShieldResponse,
    content_text,
)
from llama_stack_core.errors import BadRequestError, NotFoundError, ResourceNotFoundError, UpstreamError
from llama_stack_core.routing import ApiRouter

from .config import LlamaGuardConfig, ShieldParams
from .prompt import MalformedVerdict, Turn, build_prompt, parse_verdict
from .taxonomy import ALL_MODERATION_CATEGORIES, CATEGORIES, MODERATION_CATEGORIES

#: How each message role reads in the conversation Llama Guard is shown; system messages are not turns.
ROLE_NAMES = {"user": "User", "assistant": "Agent", "tool": "Agent"}
#: How much of a malformed verdict an error message quotes.
VERDICT_QUOTE = 200


@dataclass(frozen=True)
class GuardShield:
    identifier: str
    model: str
    excluded: frozenset[str]

    @property
    def settings(self) -> tuple[str, frozenset[str]]:
        return self.model, self.excluded


def conversation(messages: list[Any]) -> list[Turn]:
    """The messages as Llama Guard turns: user -> ``User``, assistant and tool -> ``Agent``; system skipped."""
    turns = [Turn(ROLE_NAMES[m.role], content_text(m.content)) for m in messages if m.role in ROLE_NAMES]
    if not turns:
        raise BadRequestError("messages: Llama Guard needs a user, assistant or tool message", param="messages")
    return turns


def describe(codes: list[str]) -> str:
    return ", ".join(f"{code} {CATEGORIES[code]}" for code in codes)


class LlamaGuardSafety:
    """A SafetyProvider classifying with Llama Guard 3 through the Inference API."""

    def __init__(self, config: LlamaGuardConfig, inference: ApiRouter) -> None:
        self.config = config
        self.inference = inference
        #: provider_resource_id -> the shields registered under it (by identifier); they share model and categories
        self._shields: dict[str, dict[str, GuardShield]] = {}

    # -- shields -------------------------------------------------------------------------------------------------

    async def register_shield(self, shield: Shield) -> None:
        try:
            params = ShieldParams.model_validate(shield.params or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
            raise BadRequestError(f"shield '{shield.identifier}' params: {problems}", param="params") from None
        key = shield.provider_resource_id or shield.identifier
        excluded = frozenset((*self.config.excluded_categories, *params.excluded_categories))
        if excluded >= CATEGORIES.keys():
            raise BadRequestError(
                f"shield '{shield.identifier}' excludes every category: nothing would be checked", param="params"
            )
        guard = GuardShield(shield.identifier, params.model or key, excluded)
        sharing = self._shields.setdefault(key, {})
        other = next((s for s in sharing.values() if s.identifier != guard.identifier), None)
        if other is not None and other.settings != guard.settings:
            raise BadRequestError(
                f"shield '{other.identifier}' already uses provider_shield_id '{key}' with other settings; give "
                "this shield a provider_shield_id of its own and name its model in params.model",
                param="provider_shield_id",
            )
        sharing[guard.identifier] = guard

    async def unregister_shield(self, shield: Shield) -> None:
        key = shield.provider_resource_id or shield.identifier
        sharing = self._shields.get(key, {})
        sharing.pop(shield.identifier, None)
        if not sharing:
            self._shields.pop(key, None)

    def _shield(self, shield_id: str | None, field: str) -> GuardShield:
        if shield_id is None:  # the safety router fills in the default shield; a direct caller must name one
            raise BadRequestError(f"{field} is required: name a shield", param=field)
        sharing = self._shields.get(shield_id)
        if not sharing:
            raise ResourceNotFoundError("Shield", shield_id)
        return next(iter(sharing.values()))

    # -- classification ------------------------------------------------------------------------------------------

    async def classify(self, shield: GuardShield, turns: list[Turn]) -> list[str]:
        """The S-codes the model finds violated in the last turn, less the shield's excluded ones."""
        request = ChatCompletionRequest(
            model=shield.model,
            messages=[UserMessage(role="user", content=build_prompt(turns, shield.excluded))],
            temperature=0,
            max_tokens=self.config.max_tokens,
        )
        try:
            answer = await self.inference.call_as("openai_chat_completion", request, ChatCompletion)
        except ResourceNotFoundError as exc:
            raise NotFoundError(
                f"shield '{shield.identifier}' classifies with a model that is missing: {exc}"
            ) from None
        except ValidationError:
            raise UpstreamError(
                f"model '{shield.model}' answered with something that is not a chat completion"
            ) from None
        verdict = answer.choices[0].message.content if answer.choices else None
        try:
            codes = parse_verdict(verdict)
        except MalformedVerdict as exc:
            quoted = (verdict or "")[:VERDICT_QUOTE]
            raise UpstreamError(
                f"shield '{shield.identifier}': model '{shield.model}' gave a malformed Llama Guard verdict ({exc}): "
                f"{quoted!r}"
            ) from None
        return [code for code in codes if code not in shield.excluded]

    # -- the SafetyProvider protocol -----------------------------------------------------------------------------

    async def run_shield(self, request: RunShieldRequest) -> RunShieldResponse:
        if request.params:
            raise BadRequestError(
                f"params: this shield takes no per-call params (got {sorted(request.params)})", param="params"
            )
        shield = self._shield(request.shield_id, "shield_id")
        codes = await self.classify(shield, conversation(request.messages))
        if not codes:
            return RunShieldResponse(violation=None)
        return RunShieldResponse(
            violation=SafetyViolation(
                violation_level="error",
                user_message=f"This content violates the safety policy ({describe(codes)}).",
                metadata={"violation_type": ",".join(codes), "categories": [CATEGORIES[c] for c in codes]},
            )
        )

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        shield = self._shield(request.model, "model")
        texts = moderation_texts(request.input)
        verdicts = await asyncio.gather(*(self.classify(shield, [Turn("User", text)]) for text in texts))
        return ModerationObject(
            id=f"modr-{uuid.uuid4().hex}", model=request.model, results=[moderation_result(v) for v in verdicts]
        )


def moderation_texts(value: str | list[Any]) -> list[str]:
    """Each moderation input's text; Llama Guard 3 reads text only, so an image input is refused."""
    if isinstance(value, str):
        return [value]
    if not value:
        raise BadRequestError("input: give at least one input", param="input")
    texts = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif item.type == "text":
            texts.append(item.text)
        else:
            raise BadRequestError("input: Llama Guard classifies text only, not image inputs", param="input")
    return texts


def moderation_result(codes: list[str]) -> ModerationResult:
    """A moderation result from violated S-codes (see taxonomy.MODERATION_CATEGORIES); scores are 0 or 1."""
    hit = {category for code in codes for category in MODERATION_CATEGORIES[code]}
    return ModerationResult(
        flagged=bool(codes),
        categories={c: c in hit for c in ALL_MODERATION_CATEGORIES},
        category_scores={c: 1.0 if c in hit else 0.0 for c in ALL_MODERATION_CATEGORIES},
        category_applied_input_types={c: ["text"] if c in hit else [] for c in ALL_MODERATION_CATEGORIES},
        user_message=f"This content violates the safety policy ({describe(codes)})." if codes else None,
        metadata={"violation_type": ",".join(codes)} if codes else {},
    )


def create_provider(config: LlamaGuardConfig, deps: dict[Api, Any]) -> LlamaGuardSafety:
    return LlamaGuardSafety(config, deps[Api.inference])
