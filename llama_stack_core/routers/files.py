"""Files routing: deleting a file also takes it out of every vector store at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..apis.common import DeletedObject
from ..apis.files import FileRef
from ..routing import ApiRouter, as_model, provider_method, serving


class FilesRouter(ApiRouter):
    #: Called with a file id after the Files provider deleted it (vector stores drop its chunks).
    deletion_listeners: list[Callable[[str], Awaitable[Any]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deletion_listeners = []

    async def openai_delete_file(self, request: FileRef) -> DeletedObject:
        provider, request = await self.route(self._routes["openai_delete_file"], request)
        delete = provider_method(serving(provider), "openai_delete_file")
        deleted = as_model(await delete(request), DeletedObject)
        for listener in self.deletion_listeners:
            await listener(request.file_id)
        return deleted
