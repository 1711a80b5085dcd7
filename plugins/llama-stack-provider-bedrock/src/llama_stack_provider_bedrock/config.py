"""Configuration of ``remote::bedrock``. Imported by plugin.py, so it stays light (pydantic and the core only)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from llama_stack_core.inference.openai_compat import OpenAICompatConfig

PROVIDER_TYPE = "remote::bedrock"


class BedrockConfig(OpenAICompatConfig):
    """An AWS region and an Amazon Bedrock API key (sent as a Bearer token)."""

    region: str = Field(
        default="us-west-2",
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$",
        description="AWS region of the bedrock-runtime endpoint, e.g. us-west-2.",
    )
    base_url: str = Field(
        default="",
        description="Leave empty for https://bedrock-runtime.<region>.amazonaws.com/"
        "openai/v1; set it for a VPC endpoint or a proxy.",
    )

    @model_validator(mode="after")
    def _endpoint(self) -> BedrockConfig:
        if not self.base_url:
            self.base_url = f"https://bedrock-runtime.{self.region}.amazonaws.com/openai/v1"
        if self.refresh_models:
            raise ValueError(
                "refresh_models: Bedrock's OpenAI-compatible endpoint has no model list; register the "
                "models to use in the run config (e.g. provider_model_id: openai.gpt-oss-20b-1:0)"
            )
        return self

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        return {"region": "${env.AWS_DEFAULT_REGION:=us-west-2}", "api_key": "${env.AWS_BEARER_TOKEN_BEDROCK:=}"}
