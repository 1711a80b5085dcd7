"""Where a dataset's rows come from, by its source URI: a local file (``file:///abs/path`` or a bare absolute path,
inside ``server.local_access.file_roots``) or a file uploaded through the Files API (``file-<id>`` or
``files://file-<id>``). Inline rows need no location."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from llama_stack_core import access

#: an id the Files API gives (``file-`` and letters, digits, ``_`` or ``-``): nothing else is looked up there
FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]+$")
FILES_SCHEME = "files://"
PARAM = "source.uri"


@dataclass(frozen=True)
class LocalFile:
    uri: str

    def path(self) -> Path:
        """The file's path, checked against ``file_roots`` on every call (never cached: the roots may change and a
        symlink may be re-pointed); a 400 naming ``source.uri`` when it lies outside them."""
        if urlsplit(self.uri).scheme.lower() == "file":
            return access.file_uri_path(self.uri, PARAM, PARAM)
        return access.local_path(self.uri, PARAM, PARAM)


@dataclass(frozen=True)
class UploadedFile:
    file_id: str


Location = LocalFile | UploadedFile


def locate(uri: str) -> Location | None:
    """The location a URI names, or None for a URI this provider does not read (``hf://``, ``https://``, ...)."""
    if uri.startswith(FILES_SCHEME):
        file_id = uri[len(FILES_SCHEME) :]
        return UploadedFile(file_id) if FILE_ID.match(file_id) else None
    if FILE_ID.match(uri):
        return UploadedFile(uri)
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "file" or (not scheme and uri.startswith(("/", "~", "./", "../"))):
        return LocalFile(uri)
    return None


class TooLargeError(Exception):
    pass


def stat_file(path: Path) -> os.stat_result:
    """The file's stat (blocking); ``IsADirectoryError`` for anything but a regular file."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(f"'{path}' is not a regular file")
    return info


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes (blocking); :class:`TooLargeError` past ``max_bytes``."""
    with open(path, "rb") as handle:
        content = handle.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise TooLargeError
    return content
