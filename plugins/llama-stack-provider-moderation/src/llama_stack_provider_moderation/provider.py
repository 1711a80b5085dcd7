"""``remote::moderation``: shields whose verdicts come from a hosted endpoint speaking OpenAI's moderations API.

Wire format (https://platform.openai.com/docs/api-reference/moderations): ``POST {base_url}/moderations`` with
``{"input": str | [str] | [{type: text|image_url, ...}], "model": ...}`` and ``Authorization: Bearer <key>``;
the answer is ``{id, model, results: [{flagged, categories, category_scores, category_applied_input_types}]}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from llama_stack_core.apis.common import SafetyViolation
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
from llama_stack_core.errors import BadRequestError, ResourceNotFoundError, StackError, UpstreamError
from llama_stack_core.redaction import mask_secrets
from llama_stack_core.request_context import provider_data
from llama_stack_core.upstream import UpstreamClient

from .config import PROVIDER_DATA_KEY, ModerationConfig

NAME = "moderation service"


class UpstreamResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]] | None = None


class UpstreamModeration(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    model: str
    results: list[UpstreamResult]


def flagged_categories(result: UpstreamResult) -> list[str]:
    return sorted(name for name, on in result.categories.items() if on)


def violation_message(categories: list[str]) -> str:
    return f"This content was flagged by the moderation service ({', '.join(categories) or 'unspecified'})."


class ModerationSafety:
    """A SafetyProvider whose shields are models of a hosted moderation endpoint."""

    def __init__(self, config: ModerationConfig) -> None:
        self.config = config
        self.client = UpstreamClient(config.base_url, name=NAME, timeout=config.timeout)
        #: provider_resource_id (the upstream model) -> the identifiers of the shields registered under it
        self._shields: dict[str, set[str]] = {}

    # -- shields -------------------------------------------------------------------------------------------------

    async def register_shield(self, shield: Shield) -> None:
        if shield.params:
            raise BadRequestError(
                f"shield '{shield.identifier}': remote::moderation shields take no params (got "
                f"{sorted(shield.params)}); name the upstream model in provider_shield_id",
                param="params",
            )
        self._shields.setdefault(shield.provider_resource_id or shield.identifier, set()).add(shield.identifier)

    async def unregister_shield(self, shield: Shield) -> None:
        key = shield.provider_resource_id or shield.identifier
        sharing = self._shields.get(key, set())
        sharing.discard(shield.identifier)
        if not sharing:
            self._shields.pop(key, None)

    def _model(self, shield_id: str | None, field: str) -> str:
        if shield_id is None:  # the safety router fills in the default shield; a direct caller must name one
            raise BadRequestError(f"{field} is required: name a shield", param=field)
        if not self._shields.get(shield_id):
            raise ResourceNotFoundError("Shield", shield_id)
        return shield_id

    # -- the upstream call ---------------------------------------------------------------------------------------

    def _key(self) -> str | None:
        key = provider_data().get(PROVIDER_DATA_KEY)
        if key:
            return str(key)
        return self.config.api_key.get_secret_value() if self.config.api_key else None

    async def moderate(self, model: str, inputs: str | list[Any]) -> UpstreamModeration:
        """The service's verdicts on ``inputs``, checked against the wire shape; failures as 502/504 (an
        unauthorised key as 502 saying so), never with the key in the message."""
        key = self._key()
        headers = {"Authorization": f"Bearer {key}"} if key else None
        body = orjson.dumps({"input": inputs, "model": model})
        try:
            data = await self.client.request("POST", "moderations", body=body, headers=headers)
        except StackError as exc:
            raise self._error(exc, key) from None
        try:
            answer = UpstreamModeration.model_validate_json(data)
        except ValidationError as exc:
            where = "invalid JSON" if any(e["type"] == "json_invalid" for e in exc.errors()) else "not a moderation"
            raise UpstreamError(f"{NAME} at {self.client.base_url} answered with {where}: {data[:200]!r}") from None
        if isinstance(inputs, list) and all(isinstance(i, str) for i in inputs) and len(answer.results) != len(inputs):
            raise UpstreamError(
                f"{NAME} at {self.client.base_url} answered {len(answer.results)} results for {len(inputs)} inputs"
            )
        return answer

    def _error(self, exc: StackError, key: str | None) -> StackError:
        message = mask_secrets(exc.message, (key,) if key else ())
        if exc.status_code in (401, 403):
            return UpstreamError(
                f"{NAME} at {self.client.base_url} refused the credentials ({exc.status_code}): {message}. Check "
                f'api_key in the provider config, or send X-LlamaStack-Provider-Data: {{"{PROVIDER_DATA_KEY}": ...}}'
            )
        exc.message = message
        exc.args = (message,)
        return exc

    # -- the SafetyProvider protocol -----------------------------------------------------------------------------

    async def run_shield(self, request: RunShieldRequest) -> RunShieldResponse:
        if request.params:
            raise BadRequestError(
                f"params: this shield takes no per-call params (got {sorted(request.params)})", param="params"
            )
        model = self._model(request.shield_id, "shield_id")
        texts = [(i, text) for i, m in enumerate(request.messages) if (text := content_text(m.content))]
        if not texts:
            raise BadRequestError("messages: no message has text to moderate", param="messages")
        answer = await self.moderate(model, [text for _, text in texts])
        hits = [(i, result) for (i, _), result in zip(texts, answer.results, strict=True) if result.flagged]
        if not hits:
            return RunShieldResponse(violation=None)
        categories = sorted({c for _, result in hits for c in flagged_categories(result)})
        return RunShieldResponse(
            violation=SafetyViolation(
                violation_level="error",
                user_message=violation_message(categories),
                metadata={
                    "violation_type": ",".join(categories),
                    "categories": categories,
                    "flagged_messages": [i for i, _ in hits],
                },
            )
        )

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        model = self._model(request.model, "model")
        inputs = request.input
        if isinstance(inputs, list):
            if not inputs:
                raise BadRequestError("input: give at least one input", param="input")
            inputs = [i if isinstance(i, str) else i.model_dump() for i in inputs]
        answer = await self.moderate(model, inputs)
        # the safety router answers with the shield id the caller named; a direct caller gets the upstream model
        return ModerationObject(id=answer.id, model=model, results=[moderation_result(r) for r in answer.results])

    async def shutdown(self) -> None:
        await self.client.close()


def moderation_result(result: UpstreamResult) -> ModerationResult:
    categories = flagged_categories(result)
    return ModerationResult(
        flagged=result.flagged,
        categories=result.categories,
        category_scores=result.category_scores,
        category_applied_input_types=result.category_applied_input_types,
        user_message=violation_message(categories) if result.flagged else None,
        metadata={"violation_type": ",".join(categories)} if result.flagged else {},
    )


def create_provider(config: ModerationConfig, deps: dict[Api, Any]) -> ModerationSafety:
    return ModerationSafety(config)
