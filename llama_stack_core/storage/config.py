"""The run config's ``storage`` section: named backends (SQLite files, PostgreSQL servers) and the stores on them."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator


class StorageBackend(BaseModel):
    """A named storage backend: SQLite file or PostgreSQL server."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["kv_sqlite", "sql_sqlite", "sqlite", "kv_postgres", "sql_postgres", "postgres"]
    db_path: str | None = None
    host: str | None = None
    port: int | None = None
    db: str | None = Field(default=None, validation_alias=AliasChoices("db", "database", "dbname"))
    user: str | None = None
    password: SecretStr | None = None
    dsn: SecretStr | None = Field(default=None, description="A full libpq connection string or URI.")

    @property
    def is_postgres(self) -> bool:
        return "postgres" in self.type

    @model_validator(mode="after")
    def _check_fields(self) -> StorageBackend:
        if not self.is_postgres and not self.db_path:
            raise ValueError("a sqlite backend needs db_path")
        return self


class StoreRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: str
    namespace: str | None = None
    table_name: str | None = None


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backends: dict[str, StorageBackend] = Field(default_factory=dict)
    stores: dict[str, StoreRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_refs(self) -> StorageConfig:
        for name, ref in self.stores.items():
            if ref.backend not in self.backends:
                raise ValueError(f"store '{name}' uses unknown backend '{ref.backend}'")
        return self
