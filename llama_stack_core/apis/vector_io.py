"""Vector IO: raw chunk insert/query and the OpenAI-compatible Vector Stores API (stores, files, file batches, search).

Every operation on an existing store is routed by its id to the provider that owns the ``vector_db`` resource.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..errors import BadRequestError
from ..owners import Action
from .common import (
    CursorPage,
    CursorQuery,
    DeletedObject,
    Identifier,
    InterleavedContent,
    Request,
    SearchMode,
    StrictRequest,
)
from .routes import Api, ApiSpec, ResourceRef, Route

# -- raw chunks --------------------------------------------------------------------------------------------------


class ChunkMetadata(BaseModel):
    """Backend metadata of a chunk; not shown to the model."""

    model_config = ConfigDict(extra="allow")
    chunk_id: str | None = None
    document_id: str | None = None
    source: str | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    chunk_window: str | None = None
    chunk_tokenizer: str | None = None
    chunk_embedding_model: str | None = None
    chunk_embedding_dimension: int | None = None
    content_token_count: int | None = None
    metadata_token_count: int | None = None


class Chunk(BaseModel):
    """A piece of content with metadata and, optionally, a precomputed embedding."""

    model_config = ConfigDict(extra="allow")
    content: InterleavedContent
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding: list[float] | None = None
    chunk_id: str | None = None
    chunk_metadata: ChunkMetadata | None = None
    embedding_model: str | None = None
    embedding_dimension: int | None = Field(default=None, gt=0)


class InsertChunksRequest(Request):
    vector_db_id: str = Field(min_length=1, validation_alias=AliasChoices("vector_db_id", "vector_store_id"))
    chunks: list[Chunk]
    ttl_seconds: int | None = None


class QueryParams(BaseModel):
    """Query options; providers may read extra keys."""

    model_config = ConfigDict(extra="allow")
    max_chunks: int | None = Field(default=None, ge=1, le=10000)
    score_threshold: float | None = None
    mode: SearchMode | None = None
    ranker: dict[str, Any] | None = None


class QueryChunksRequest(Request):
    vector_db_id: str = Field(min_length=1, validation_alias=AliasChoices("vector_db_id", "vector_store_id"))
    query: InterleavedContent
    params: QueryParams | None = None


class QueryChunksResponse(BaseModel):
    chunks: list[Chunk]
    scores: list[float]


# -- vector stores -----------------------------------------------------------------------------------------------


class ChunkingStrategyAuto(BaseModel):
    type: Literal["auto"] = "auto"


class StaticChunkingConfig(BaseModel):
    max_chunk_size_tokens: int = Field(default=800, ge=100, le=4096)
    chunk_overlap_tokens: int = Field(default=400, ge=0)

    @model_validator(mode="after")
    def _overlap_at_most_half(self) -> StaticChunkingConfig:
        # a 400, not a field's 422: a rule between two fields, which the OpenAPI document cannot state
        if self.chunk_overlap_tokens * 2 > self.max_chunk_size_tokens:
            raise BadRequestError(
                "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens",
                param="chunking_strategy.static.chunk_overlap_tokens",
            )
        return self


class ChunkingStrategyStatic(BaseModel):
    type: Literal["static"] = "static"
    static: StaticChunkingConfig


ChunkingStrategy = Annotated[ChunkingStrategyAuto | ChunkingStrategyStatic, Field(discriminator="type")]


class VectorStoreExpiresAfter(BaseModel):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class FileCounts(BaseModel):
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    in_progress: int = 0
    total: int = 0


class VectorStore(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["vector_store"] = "vector_store"
    created_at: int
    name: str | None = None
    usage_bytes: int = 0
    file_counts: FileCounts = Field(default_factory=FileCounts)
    status: Literal["expired", "in_progress", "completed"] = "completed"
    expires_after: dict[str, Any] | None = None
    expires_at: int | None = None
    last_active_at: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class VectorStoreCreateRequest(Request):
    """OpenAI create body plus the Llama Stack extras (``extra_body``) that pick the provider and embedding model."""

    name: str | None = None
    description: str | None = None
    file_ids: list[Identifier] | None = None
    expires_after: VectorStoreExpiresAfter | None = None
    chunking_strategy: ChunkingStrategy | None = None
    metadata: dict[str, Any] | None = None
    provider_id: str | None = None
    embedding_model: str | None = None
    embedding_dimension: int | None = Field(default=None, gt=0)
    provider_vector_db_id: str | None = None
    #: Set by the router for the provider: the id the store was registered under at the provider. Not sent by clients.
    vector_store_id: SkipJsonSchema[str | None] = None


class VectorStoreListRequest(CursorQuery):
    limit: int = Field(default=20, ge=1, le=100)


class VectorStoreRef(StrictRequest):
    vector_store_id: str = Field(min_length=1)


class VectorStoreUpdateRequest(Request):
    vector_store_id: str = Field(min_length=1)
    name: str | None = None
    expires_after: VectorStoreExpiresAfter | None = None
    metadata: dict[str, Any] | None = None


# -- search ------------------------------------------------------------------------------------------------------

FilterValue = str | bool | int | float | list[str | int | float]


class ComparisonFilter(BaseModel):
    """Compare the file attribute ``key`` with ``value``."""

    key: str = Field(min_length=1)
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    value: FilterValue


class CompoundFilter(BaseModel):
    """Combine filters with ``and`` / ``or``."""

    type: Literal["and", "or"]
    filters: list[SearchFilter] = Field(min_length=1)


SearchFilter = Annotated[ComparisonFilter | CompoundFilter, Field(discriminator="type")]


class RankingOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    ranker: str | None = None
    score_threshold: float | None = None


class VectorStoreSearchRequest(Request):
    vector_store_id: str = Field(min_length=1)
    query: Annotated[str, Field(min_length=1)] | Annotated[list[str], Field(min_length=1)]
    filters: SearchFilter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: RankingOptions | None = None
    rewrite_query: bool = False
    search_mode: SearchMode = "vector"


class VectorStoreContent(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"] = "text"
    text: str
    embedding: list[float] | None = None
    chunk_metadata: ChunkMetadata | None = None
    metadata: dict[str, Any] | None = None


class VectorStoreSearchResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    file_id: str
    filename: str
    score: float
    attributes: dict[str, str | float | bool] | None = None
    content: list[VectorStoreContent]


class VectorStoreSearchPage(BaseModel):
    """Search results; ``search_query`` is a string for 0.2 clients, a list for current ones."""

    object: Literal["vector_store.search_results.page"] = "vector_store.search_results.page"
    search_query: str | list[str]
    data: list[VectorStoreSearchResult]
    has_more: bool = False
    next_page: str | None = None


# -- vector store files ------------------------------------------------------------------------------------------

FileStatus = Literal["completed", "in_progress", "cancelled", "failed"]


class VectorStoreFileLastError(BaseModel):
    code: Literal["server_error", "rate_limit_exceeded", "unsupported_file", "invalid_file"]
    message: str


class VectorStoreFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["vector_store.file"] = "vector_store.file"
    attributes: dict[str, Any] = Field(default_factory=dict)
    chunking_strategy: ChunkingStrategy | None = None
    created_at: int
    last_error: VectorStoreFileLastError | None = None
    status: FileStatus
    usage_bytes: int = 0
    vector_store_id: str


class VectorStoreFileCreateRequest(Request):
    vector_store_id: str = Field(min_length=1)
    file_id: str = Field(min_length=1)
    attributes: dict[str, Any] | None = None
    chunking_strategy: ChunkingStrategy | None = None


class VectorStoreFileListRequest(CursorQuery):
    vector_store_id: str = Field(min_length=1)
    limit: int = Field(default=20, ge=1, le=100)
    filter: FileStatus | None = None


class VectorStoreFileRef(StrictRequest):
    vector_store_id: str = Field(min_length=1)
    file_id: str = Field(min_length=1)


class VectorStoreFileUpdateRequest(Request):
    vector_store_id: str = Field(min_length=1)
    file_id: str = Field(min_length=1)
    attributes: dict[str, Any]


class VectorStoreFileContentRequest(StrictRequest):
    vector_store_id: str = Field(min_length=1)
    file_id: str = Field(min_length=1)
    include_embeddings: bool = False
    include_metadata: bool = False


class VectorStoreFileContentPage(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: Literal["vector_store.file_content.page"] = "vector_store.file_content.page"
    data: list[VectorStoreContent]
    has_more: bool = False
    next_page: str | None = None


# -- file batches ------------------------------------------------------------------------------------------------


class VectorStoreFileBatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["vector_store.file_batch", "vector_store.files_batch"] = "vector_store.file_batch"
    created_at: int
    vector_store_id: str
    status: FileStatus
    file_counts: FileCounts


class FileBatchCreateRequest(Request):
    vector_store_id: str = Field(min_length=1)
    file_ids: list[Identifier] = Field(min_length=1, max_length=2000)
    attributes: dict[str, Any] | None = None
    chunking_strategy: ChunkingStrategy | None = None


class FileBatchRef(StrictRequest):
    vector_store_id: str = Field(min_length=1)
    batch_id: str = Field(min_length=1)


class FileBatchFilesRequest(CursorQuery):
    vector_store_id: str = Field(min_length=1)
    batch_id: str = Field(min_length=1)
    limit: int = Field(default=20, ge=1, le=100)
    filter: FileStatus | None = None


# -- provider contract -------------------------------------------------------------------------------------------


@runtime_checkable
class VectorIOProvider(Protocol):
    """What a vector_io provider implements. ``vector_db_id`` / ``vector_store_id`` is the provider's own store id."""

    async def insert_chunks(self, request: InsertChunksRequest) -> None:
        """Insert chunks into a store, embedding those without an embedding."""

    async def query_chunks(self, request: QueryChunksRequest) -> QueryChunksResponse:
        """Return the chunks closest to the query, with their scores."""

    async def openai_create_vector_store(self, request: VectorStoreCreateRequest) -> VectorStore:
        """Create a vector store."""

    async def openai_list_vector_stores(self, request: VectorStoreListRequest) -> CursorPage[VectorStore]:
        """List vector stores."""

    async def openai_retrieve_vector_store(self, request: VectorStoreRef) -> VectorStore:
        """Get a vector store."""

    async def openai_update_vector_store(self, request: VectorStoreUpdateRequest) -> VectorStore:
        """Update a vector store's name, expiry or metadata."""

    async def openai_delete_vector_store(self, request: VectorStoreRef) -> DeletedObject:
        """Delete a vector store."""

    async def openai_search_vector_store(self, request: VectorStoreSearchRequest) -> VectorStoreSearchPage:
        """Search a vector store."""

    async def openai_attach_file_to_vector_store(self, request: VectorStoreFileCreateRequest) -> VectorStoreFile:
        """Attach an uploaded file to a vector store."""

    async def openai_list_files_in_vector_store(
        self, request: VectorStoreFileListRequest
    ) -> CursorPage[VectorStoreFile]:
        """List the files of a vector store."""

    async def openai_retrieve_vector_store_file(self, request: VectorStoreFileRef) -> VectorStoreFile:
        """Get a vector store file."""

    async def openai_update_vector_store_file(self, request: VectorStoreFileUpdateRequest) -> VectorStoreFile:
        """Replace a vector store file's attributes."""

    async def openai_delete_vector_store_file(self, request: VectorStoreFileRef) -> DeletedObject:
        """Detach a file from a vector store."""

    async def openai_retrieve_vector_store_file_contents(
        self, request: VectorStoreFileContentRequest
    ) -> VectorStoreFileContentPage:
        """Return the chunks of a vector store file."""

    async def openai_create_vector_store_file_batch(self, request: FileBatchCreateRequest) -> VectorStoreFileBatch:
        """Attach several files to a vector store."""

    async def openai_retrieve_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        """Get a file batch."""

    async def openai_list_files_in_vector_store_file_batch(
        self, request: FileBatchFilesRequest
    ) -> CursorPage[VectorStoreFile]:
        """List the files of a file batch."""

    async def openai_cancel_vector_store_file_batch(self, request: FileBatchRef) -> VectorStoreFileBatch:
        """Cancel a file batch."""


VECTOR_DB = ResourceRef("vector_db_id", "vector_db")
STORE = ResourceRef("vector_store_id", "vector_db")
#: an operation that changes the store (adds, updates or removes its contents)
VECTOR_DB_WRITE = ResourceRef("vector_db_id", "vector_db", action=Action.update)
STORE_WRITE = ResourceRef("vector_store_id", "vector_db", action=Action.update)
VS = "/v1/vector_stores"
OLD_VS = "/v1/openai/v1/vector_stores"

SPEC = ApiSpec(
    api=Api.vector_io,
    title="Vector IO",
    protocol=VectorIOProvider,
    description="Chunk storage and retrieval, and OpenAI-compatible vector stores, routed by store id.",
    routes=(
        Route(
            "POST",
            "/v1/vector-io/insert",
            "insert_chunks",
            "Insert chunks into a vector store.",
            InsertChunksRequest,
            None,
            resource=VECTOR_DB_WRITE,
        ),
        Route(
            "POST",
            "/v1/vector-io/query",
            "query_chunks",
            "Query chunks from a vector store.",
            QueryChunksRequest,
            QueryChunksResponse,
            resource=VECTOR_DB,
        ),
        Route(
            "POST",
            VS,
            "openai_create_vector_store",
            "Create a vector store.",
            VectorStoreCreateRequest,
            VectorStore,
            aliases=(OLD_VS,),
        ),
        Route(
            "GET",
            VS,
            "openai_list_vector_stores",
            "List vector stores.",
            VectorStoreListRequest,
            CursorPage[VectorStore],
            aliases=(OLD_VS,),
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}",
            "openai_retrieve_vector_store",
            "Get a vector store.",
            VectorStoreRef,
            VectorStore,
            resource=STORE,
            aliases=(OLD_VS + "/{vector_store_id}",),
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}",
            "openai_update_vector_store",
            "Update a vector store.",
            VectorStoreUpdateRequest,
            VectorStore,
            resource=STORE_WRITE,
            aliases=(OLD_VS + "/{vector_store_id}",),
        ),
        Route(
            "DELETE",
            VS + "/{vector_store_id}",
            "openai_delete_vector_store",
            "Delete a vector store.",
            VectorStoreRef,
            DeletedObject,
            resource=STORE_WRITE,
            aliases=(OLD_VS + "/{vector_store_id}",),
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}/search",
            "openai_search_vector_store",
            "Search a vector store.",
            VectorStoreSearchRequest,
            VectorStoreSearchPage,
            resource=STORE,
            aliases=(OLD_VS + "/{vector_store_id}/search",),
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}/files",
            "openai_attach_file_to_vector_store",
            "Attach a file to a vector store.",
            VectorStoreFileCreateRequest,
            VectorStoreFile,
            resource=STORE_WRITE,
            aliases=(OLD_VS + "/{vector_store_id}/files",),
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}/files",
            "openai_list_files_in_vector_store",
            "List the files of a vector store.",
            VectorStoreFileListRequest,
            CursorPage[VectorStoreFile],
            resource=STORE,
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}/files/{file_id}",
            "openai_retrieve_vector_store_file",
            "Get a vector store file.",
            VectorStoreFileRef,
            VectorStoreFile,
            resource=STORE,
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}/files/{file_id}",
            "openai_update_vector_store_file",
            "Update a vector store file's attributes.",
            VectorStoreFileUpdateRequest,
            VectorStoreFile,
            resource=STORE_WRITE,
        ),
        Route(
            "DELETE",
            VS + "/{vector_store_id}/files/{file_id}",
            "openai_delete_vector_store_file",
            "Delete a vector store file.",
            VectorStoreFileRef,
            DeletedObject,
            resource=STORE_WRITE,
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}/files/{file_id}/content",
            "openai_retrieve_vector_store_file_contents",
            "Get the chunk contents of a vector store file.",
            VectorStoreFileContentRequest,
            VectorStoreFileContentPage,
            resource=STORE,
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}/file_batches",
            "openai_create_vector_store_file_batch",
            "Create a vector store file batch.",
            FileBatchCreateRequest,
            VectorStoreFileBatch,
            resource=STORE_WRITE,
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}/file_batches/{batch_id}",
            "openai_retrieve_vector_store_file_batch",
            "Get a vector store file batch.",
            FileBatchRef,
            VectorStoreFileBatch,
            resource=STORE,
        ),
        Route(
            "GET",
            VS + "/{vector_store_id}/file_batches/{batch_id}/files",
            "openai_list_files_in_vector_store_file_batch",
            "List the files of a vector store file batch.",
            FileBatchFilesRequest,
            CursorPage[VectorStoreFile],
            resource=STORE,
        ),
        Route(
            "POST",
            VS + "/{vector_store_id}/file_batches/{batch_id}/cancel",
            "openai_cancel_vector_store_file_batch",
            "Cancel a vector store file batch.",
            FileBatchRef,
            VectorStoreFileBatch,
            resource=STORE_WRITE,
        ),
    ),
)
