"""Types shared by several API contracts."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Request(BaseModel):
    """Base of request models: unknown fields are kept (upstream and OpenAI clients send vendor extras)."""

    model_config = ConfigDict(extra="allow")


class StrictRequest(BaseModel):
    """Base of request models that reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Empty(StrictRequest):
    """A request with no parameters."""


class CursorPage(BaseModel, Generic[T]):
    """OpenAI cursor list: ``{"object": "list", data, first_id, last_id, has_more}``."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class DataList(BaseModel, Generic[T]):
    """The plain ``{"data": [...]}`` list shape."""

    data: list[T]


class CursorQuery(StrictRequest):
    """Query parameters of OpenAI cursor lists."""

    after: str | None = None
    before: str | None = None
    limit: int = Field(default=20, ge=1, le=10000)
    order: Literal["asc", "desc"] = "desc"


class DeletedObject(BaseModel):
    id: str
    object: str
    deleted: bool = True


class UploadedFile(BaseModel):
    """A file part of a multipart request."""

    filename: str
    content_type: str | None = None
    content: bytes


class BinaryContent(BaseModel):
    """A non-JSON response body (e.g. a file's bytes)."""

    content: bytes
    media_type: str = "application/octet-stream"


class Job(BaseModel):
    job_id: str
    status: Literal["completed", "in_progress", "failed", "scheduled", "cancelled"]


JSONDict = dict[str, Any]
