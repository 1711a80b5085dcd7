"""inline::builtin agents (the older Agents API of llama-stack-client 0.2): the core's conformance kit, then turns with
real parts: builtin::rag over a real vector store, an mcp:: tool group on the real MCP test server, an input shield
(inline::rule-shield), and one turn on the real SmolLM2 model."""

from __future__ import annotations

import llama_stack_provider_agents.plugin as agents_plugin
import pytest

from llama_stack_core.apis.routes import Api
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.agents import AgentsProviderTests
from llama_stack_core.testing.imports import assert_plugin_module_is_light


def test_plugin_import_is_cheap_and_registers_the_agents_provider() -> None:
    assert_plugin_module_is_light(
        "llama_stack_provider_agents.plugin",
        ["llama_stack_provider_agents.agents", "llama_stack_core.agents"],
        call=["register_agents_providers"],
    )
    spec = PluginManager(extra_plugins=[agents_plugin]).provider_spec(Api.agents, "inline::builtin")
    assert spec.spec.factory == "llama_stack_provider_agents.agents:create_provider"


class TestBuiltinAgents(AgentsProviderTests):
    provider_type = "inline::builtin"
    extra_plugins = [agents_plugin]
