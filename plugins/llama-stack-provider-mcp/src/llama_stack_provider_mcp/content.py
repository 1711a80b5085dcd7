"""MCP tools and tool results in the stack's shapes (``ToolDef``, ``ToolInvocationResult``)."""

from __future__ import annotations

from typing import Any

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    Tool,
)

from llama_stack_core.apis.common import ToolDef
from llama_stack_core.apis.tool_runtime import ToolInvocationResult


def tool_def(tool: Tool) -> ToolDef:
    """A listed MCP tool: its input (and output) JSON schema kept whole."""
    metadata: dict[str, Any] = {}
    if tool.title:
        metadata["title"] = tool.title
    if tool.annotations is not None:
        metadata["annotations"] = tool.annotations.model_dump(by_alias=True, exclude_none=True)
    return ToolDef(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        metadata=metadata or None,
    )


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def invocation_result(result: CallToolResult) -> ToolInvocationResult:
    """Text -> text items, images -> image items (base64), resources and links -> a text item each plus an entry in
    ``metadata.resources``; audio -> ``metadata.audio``. ``isError`` -> ``error_message`` (the result's text)."""
    items: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    audio: list[dict[str, Any]] = []
    for block in result.content:
        if isinstance(block, TextContent):
            items.append(_text(block.text))
        elif isinstance(block, ImageContent):
            items.append({"type": "image", "image": {"data": block.data}, "mime_type": block.mime_type})
        elif isinstance(block, EmbeddedResource):
            contents = block.resource
            entry: dict[str, Any] = {"type": "resource", "uri": contents.uri, "mime_type": contents.mime_type}
            header = f"[resource {contents.uri}" + (f" ({contents.mime_type})" if contents.mime_type else "") + "]"
            if isinstance(contents, BlobResourceContents):
                entry["blob"] = contents.blob
                items.append(_text(f"{header} binary, {len(contents.blob) * 3 // 4} bytes (base64 in metadata)"))
            else:
                entry["text"] = contents.text
                items.append(_text(f"{header}\n{contents.text}"))
            resources.append(entry)
        elif isinstance(block, ResourceLink):
            resources.append(
                {"type": "resource_link", "uri": block.uri, "name": block.name, "mime_type": block.mime_type}
            )
            kind = f" ({block.mime_type})" if block.mime_type else ""
            items.append(_text(f"[resource link {block.name}: {block.uri}{kind}]"))
        elif isinstance(block, AudioContent):
            audio.append({"mime_type": block.mime_type, "data": block.data})
            items.append(_text(f"[audio ({block.mime_type}) in metadata]"))
    metadata: dict[str, Any] = {}
    if resources:
        metadata["resources"] = resources
    if audio:
        metadata["audio"] = audio
    if result.structured_content is not None:
        metadata["structured_content"] = result.structured_content
    error_message = None
    if result.is_error:
        error_message = "\n".join(i["text"] for i in items if i["type"] == "text") or "the tool reported an error"
    return ToolInvocationResult(content=items, error_message=error_message, metadata=metadata or None)
