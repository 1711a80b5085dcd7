"""llama-stack-provider-agents: ``inline::builtin`` providers for the Responses, Conversations and Agents APIs, thin
wrappers over the core's agent engine (:mod:`llama_stack_core.agents`)."""

__version__ = "0.1.0"
