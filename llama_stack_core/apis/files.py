"""Files: the OpenAI Files API (multipart upload, list, metadata, delete and raw content)."""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .common import (
    BinaryContent,
    CursorPage,
    CursorQuery,
    DeletedObject,
    FileExpiresAfter,
    Request,
    StrictRequest,
    UploadedFile,
)
from .routes import Api, ApiSpec, Route

UploadPurpose = Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
FilePurpose = Literal[
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "fine-tune",
    "fine-tune-results",
    "vision",
    "user_data",
    "evals",
]


class FileObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: FilePurpose
    status: Literal["uploaded", "processed", "error"] | None = None


class FileUploadRequest(Request):
    """Multipart form; ``expires_after`` may arrive as ``expires_after[anchor]``/``[seconds]`` fields or as JSON."""

    file: UploadedFile
    purpose: UploadPurpose
    expires_after: FileExpiresAfter | None = None

    @model_validator(mode="before")
    @classmethod
    def _fold_form_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        nested = {
            k[len("expires_after[") : -1]: data.pop(k)
            for k in list(data)
            if isinstance(k, str) and k.startswith("expires_after[") and k.endswith("]")
        }
        if nested and data.get("expires_after") is None:
            data["expires_after"] = nested
        if isinstance(data.get("expires_after"), str):
            data["expires_after"] = json.loads(data["expires_after"]) if data["expires_after"].strip() else None
        return data


class FileListRequest(CursorQuery):
    limit: int = Field(default=10000, ge=1, le=10000)
    purpose: FilePurpose | None = None


class FileRef(StrictRequest):
    file_id: str = Field(min_length=1)


@runtime_checkable
class FilesProvider(Protocol):
    """What a files provider implements."""

    async def openai_upload_file(self, request: FileUploadRequest) -> FileObject:
        """Store an uploaded file and return its metadata."""

    async def openai_list_files(self, request: FileListRequest) -> CursorPage[FileObject]:
        """List stored files."""

    async def openai_retrieve_file(self, request: FileRef) -> FileObject:
        """Get a file's metadata."""

    async def openai_delete_file(self, request: FileRef) -> DeletedObject:
        """Delete a file."""

    async def openai_retrieve_file_content(self, request: FileRef) -> BinaryContent:
        """Return a file's bytes."""


SPEC = ApiSpec(
    api=Api.files,
    title="Files",
    protocol=FilesProvider,
    description="OpenAI-compatible file storage for batches, vector stores and other APIs.",
    routes=(
        Route(
            "POST",
            "/v1/files",
            "openai_upload_file",
            "Upload a file.",
            FileUploadRequest,
            FileObject,
            body="multipart",
            aliases=("/v1/openai/v1/files",),
        ),
        Route(
            "GET",
            "/v1/files",
            "openai_list_files",
            "List files.",
            FileListRequest,
            CursorPage[FileObject],
            aliases=("/v1/openai/v1/files",),
        ),
        Route(
            "GET",
            "/v1/files/{file_id}",
            "openai_retrieve_file",
            "Get a file's metadata.",
            FileRef,
            FileObject,
            aliases=("/v1/openai/v1/files/{file_id}",),
        ),
        Route(
            "DELETE",
            "/v1/files/{file_id}",
            "openai_delete_file",
            "Delete a file.",
            FileRef,
            DeletedObject,
            aliases=("/v1/openai/v1/files/{file_id}",),
        ),
        Route(
            "GET",
            "/v1/files/{file_id}/content",
            "openai_retrieve_file_content",
            "Get a file's content.",
            FileRef,
            BinaryContent,
            aliases=("/v1/openai/v1/files/{file_id}/content",),
        ),
    ),
)
