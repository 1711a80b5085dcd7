"""Safety: run a registered shield over messages, and OpenAI-compatible moderations, routed by shield."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from .common import (
    Request,
    SafetyViolation,
    StackCompletionMessage,
    StackSystemMessage,
    StackToolResponseMessage,
    StackUserMessage,
)
from .inference import Message
from .routes import Api, ApiSpec, ResourceRef, Route

# -- messages ----------------------------------------------------------------------------------------------------

StackMessage = Annotated[
    StackUserMessage | StackSystemMessage | StackToolResponseMessage | StackCompletionMessage,
    Field(discriminator="role"),
]

#: A message a shield inspects: OpenAI shape (upstream 0.7) first, else the Llama Stack shape (the 0.2 SDK).
ShieldMessage = Annotated[Message | StackMessage, Field(union_mode="left_to_right")]


def content_text(content: Any) -> str:
    """The text of a shield message's content in either wire shape (a string, a text part, or a list of parts;
    dicts or models), parts joined by newlines; images and other non-text parts are left out."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text for part in content if (text := content_text(part)))
    text = content.get("text") if isinstance(content, dict) else getattr(content, "text", None)
    return text if isinstance(text, str) else ""


# -- requests ----------------------------------------------------------------------------------------------------


class RunShieldRequest(Request):
    shield_id: str = Field(min_length=1)
    messages: list[ShieldMessage] = Field(min_length=1)
    params: dict[str, Any] | None = None


class ModerationTextInput(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ModerationImageInput(BaseModel):
    type: Literal["image_url"] = "image_url"
    image_url: dict[str, Any]


ModerationInput = Annotated[ModerationTextInput | ModerationImageInput, Field(discriminator="type")]


class ModerationRequest(Request):
    """``model`` names a shield; when absent the stack's default shield is used."""

    input: str | Annotated[list[str], Field(min_length=1)] | Annotated[list[ModerationInput], Field(min_length=1)]
    model: str | None = Field(default=None, min_length=1)


# -- responses ---------------------------------------------------------------------------------------------------


class RunShieldResponse(BaseModel):
    violation: SafetyViolation | None = None


class ModerationResult(BaseModel):
    """One input's verdict; category keys are OpenAI's (``hate``, ``self-harm/intent`` ...) or the shield's own."""

    model_config = ConfigDict(extra="allow")
    flagged: bool
    categories: dict[str, bool] | None = None
    category_scores: dict[str, float] | None = None
    category_applied_input_types: dict[str, list[str]] | None = None
    user_message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ModerationObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    model: str
    results: list[ModerationResult]


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class SafetyProvider(Protocol):
    """What a safety provider implements. ``request.shield_id`` / ``request.model`` is already its own shield id."""

    async def run_shield(self, request: RunShieldRequest) -> RunShieldResponse:
        """Run a shield over a list of messages and report any violation."""
        ...

    async def run_moderation(self, request: ModerationRequest) -> ModerationObject:
        """Classify inputs as harmful or not, OpenAI moderations style."""
        ...


SPEC = ApiSpec(
    api=Api.safety,
    title="Safety",
    protocol=SafetyProvider,
    description="Shields and moderations over messages and text, federated across providers by shield.",
    routes=(
        Route(
            "POST",
            "/v1/safety/run-shield",
            "run_shield",
            "Run a shield over messages.",
            RunShieldRequest,
            RunShieldResponse,
            resource=ResourceRef("shield_id", "shield"),
        ),
        Route(
            "POST",
            "/v1/moderations",
            "run_moderation",
            "Create a moderation (classify inputs).",
            ModerationRequest,
            ModerationObject,
            resource=ResourceRef("model", "shield"),
            aliases=("/v1/openai/v1/moderations",),
        ),
    ),
)
