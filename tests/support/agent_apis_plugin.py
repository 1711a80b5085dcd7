"""Test providers for the three agent-facing APIs, one per API as a real agent plugin would register them.

- ``inline::memory`` (conversations): conversations and their items, in memory.
- ``inline::memory`` (responses): a response echoes its input; with ``conversation`` it appends the input to that
  conversation through the conversations router (its API dependency), as an agent engine does.
- ``inline::memory`` (agents): creates and gets agents.

Each implements only part of its Protocol: the other operations answer 501.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from llama_stack_core.apis.agents import Agent, AgentCreateResponse, AgentIdRequest, CreateAgentRequest
from llama_stack_core.apis.conversations import (
    AddConversationItemsRequest,
    Conversation,
    ConversationIdRequest,
    CreateConversationRequest,
    ListConversationItemsRequest,
)
from llama_stack_core.apis.response_items import ResponseItem, ResponseItemList, ResponseMessage
from llama_stack_core.apis.responses import ConversationRef, CreateResponseRequest, ResponseObject
from llama_stack_core.apis.routes import Api
from llama_stack_core.errors import NotFoundError
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

_ids = itertools.count(1)


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryConversations:
    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.items: dict[str, list[ResponseItem]] = {}

    async def create_conversation(self, request: CreateConversationRequest) -> Conversation:
        conversation = Conversation(id=f"conv_{next(_ids)}", created_at=0, metadata=request.metadata)
        self.conversations[conversation.id] = conversation
        self.items[conversation.id] = list(request.items or [])
        return conversation

    async def get_conversation(self, request: ConversationIdRequest) -> Conversation:
        if request.conversation_id not in self.conversations:
            raise NotFoundError(f"conversation '{request.conversation_id}' not found")
        return self.conversations[request.conversation_id]

    async def add_conversation_items(self, request: AddConversationItemsRequest) -> ResponseItemList:
        await self.get_conversation(ConversationIdRequest(conversation_id=request.conversation_id))
        self.items[request.conversation_id].extend(request.items)
        return ResponseItemList(data=request.items)

    async def list_conversation_items(self, request: ListConversationItemsRequest) -> ResponseItemList:
        await self.get_conversation(ConversationIdRequest(conversation_id=request.conversation_id))
        return ResponseItemList(data=self.items[request.conversation_id])


class MemoryResponses:
    def __init__(self, conversations: Any) -> None:
        self.conversations = conversations

    async def create_openai_response(self, request: CreateResponseRequest) -> ResponseObject:
        items = (
            [ResponseMessage(role="user", content=request.input)] if isinstance(request.input, str) else request.input
        )
        conversation = request.conversation
        if conversation is not None:
            conversation_id = conversation.id if isinstance(conversation, ConversationRef) else conversation
            await self.conversations.call(
                "add_conversation_items", AddConversationItemsRequest(conversation_id=conversation_id, items=items)
            )
        return ResponseObject(
            id=f"resp_{next(_ids)}", created_at=0, model=request.model, status="completed", output=items
        )


class MemoryAgents:
    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}

    async def create_agent(self, request: CreateAgentRequest) -> AgentCreateResponse:
        agent = Agent(agent_id=f"agent_{next(_ids)}", agent_config=request.agent_config, created_at=datetime.now(UTC))
        self.agents[agent.agent_id] = agent
        return AgentCreateResponse(agent_id=agent.agent_id)

    async def get_agent(self, request: AgentIdRequest) -> Agent:
        if request.agent_id not in self.agents:
            raise NotFoundError(f"agent '{request.agent_id}' not found")
        return self.agents[request.agent_id]


def create_conversations(config: MemoryConfig, deps: dict[Api, Any]) -> MemoryConversations:
    return MemoryConversations()


def create_responses(config: MemoryConfig, deps: dict[Api, Any]) -> MemoryResponses:
    return MemoryResponses(deps[Api.conversations])


def create_agents(config: MemoryConfig, deps: dict[Api, Any]) -> MemoryAgents:
    return MemoryAgents()


def _memory(api: Api, factory: str, **extra: Any) -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=api,
            provider_type="inline::memory",
            config_class=MemoryConfig,
            factory=f"agent_apis_plugin:{factory}",
            **extra,
        )
    ]


@hookimpl
def register_conversations_providers() -> list[ProviderSpec]:
    return _memory(
        Api.conversations,
        "create_conversations",
        operations=("create_conversation", "get_conversation", "add_conversation_items", "list_conversation_items"),
    )


@hookimpl
def register_responses_providers() -> list[ProviderSpec]:
    return _memory(
        Api.responses,
        "create_responses",
        api_dependencies=(Api.conversations,),
        operations=("create_openai_response",),
    )


@hookimpl
def register_agents_providers() -> list[ProviderSpec]:
    return _memory(Api.agents, "create_agents", operations=("create_agent", "get_agent"))


def memory_providers(*apis: str) -> dict[str, list[dict[str, Any]]]:
    """``providers`` entries: the memory provider for each of these APIs."""
    return {api: [{"provider_id": f"{api}-memory", "provider_type": "inline::memory", "config": {}}] for api in apis}
