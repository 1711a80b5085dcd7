"""Factories of the two providers (``ProviderSpec.factory``)."""

from __future__ import annotations

from typing import Any

from llama_stack_core.apis.routes import Api

from .brave import BraveSearch
from .config import BRAVE_PROVIDER_TYPE, TAVILY_PROVIDER_TYPE, BraveSearchConfig, TavilySearchConfig
from .tavily import TavilySearch


def create_tavily_provider(config: TavilySearchConfig, deps: dict[Api, Any]) -> TavilySearch:
    return TavilySearch(config, TAVILY_PROVIDER_TYPE)


def create_brave_provider(config: BraveSearchConfig, deps: dict[Api, Any]) -> BraveSearch:
    return BraveSearch(config, BRAVE_PROVIDER_TYPE)
