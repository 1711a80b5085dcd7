"""Safety routing: a moderation that names no shield goes to the configured default shield, and answers with the
shield's id as the caller knows it."""

from __future__ import annotations

from ..apis.safety import ModerationObject, ModerationRequest
from ..config.model import SafetySettings
from ..errors import BadRequestError
from ..routing import ApiRouter, as_model, provider_method, serving


class SafetyRouter(ApiRouter):
    def default_shield_id(self) -> str:
        settings = self.settings
        shield_id = settings.default_shield_id if isinstance(settings, SafetySettings) else None
        if shield_id is None:
            raise BadRequestError(
                "model is required: name a shield (GET /v1/shields lists them); this stack sets no "
                "safety.default_shield_id",
                param="model",
            )
        return shield_id

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        shield_id = request.model or self.default_shield_id()
        provider, provider_shield_id, _ = await self.resolve("shield", shield_id)
        moderate = provider_method(serving(provider), "run_moderation")
        answer = as_model(await moderate(request.model_copy(update={"model": provider_shield_id})), ModerationObject)
        return answer.model_copy(update={"model": shield_id})
