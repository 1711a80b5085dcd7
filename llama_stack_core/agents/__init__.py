"""The core's agent engine: Responses, Conversations and the older Agents API, on the stack's store."""
