"""Which SQLite binding to use: one that can load the sqlite-vec extension.

Many Python builds (pyenv's default build, python.org's macOS installer, some distributions) compile the standard
library's ``sqlite3`` without ``enable_load_extension``, so it cannot load ``vec0``. ``auto`` tries, in order:

1. ``apsw``: a declared dependency of this package, so normally always there. It bundles a current SQLite (FTS5, JSON,
   JSONB) and ships wheels for Linux, macOS and Windows, so every interpreter gets the same SQLite and the same
   behaviour; extension loading is always compiled in.
2. ``pysqlite3`` (``pysqlite3-binary``): DB-API like the standard module, with its own SQLite; Linux x86-64 wheels only.
3. the standard library's ``sqlite3``, if its build can load extensions.

Every binding is used through the same tiny surface (``execute(sql, params).fetchall()``, ``executemany``), in
autocommit mode with explicit ``BEGIN IMMEDIATE`` / ``COMMIT``, so the rest of the package does not care which it got.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

DriverName = Literal["auto", "apsw", "pysqlite3", "sqlite3"]
ORDER: tuple[str, ...] = ("apsw", "pysqlite3", "sqlite3")


class DriverUnavailable(RuntimeError):
    """No SQLite binding that can load sqlite-vec is installed."""


@dataclass(frozen=True)
class Driver:
    name: str
    module: Any
    #: The binding's base exception class.
    error: type[BaseException]
    sqlite_version: str

    def connect(self, path: str, busy_timeout_ms: int) -> Any:
        """A connection with sqlite-vec loaded, in autocommit mode."""
        import sqlite_vec

        if self.name == "apsw":
            conn = self.module.Connection(path)
            conn.setbusytimeout(busy_timeout_ms)
            conn.enable_load_extension(True)
            conn.load_extension(sqlite_vec.loadable_path())
            conn.enable_load_extension(False)
            return conn
        conn = self.module.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        return conn

    def is_busy(self, exc: BaseException) -> bool:
        if self.name == "apsw":
            return isinstance(exc, (self.module.BusyError, self.module.LockedError))
        return "locked" in str(exc) or "busy" in str(exc)


def _load(name: str) -> Driver:
    """The binding ``name``; raises DriverUnavailable if it is missing or cannot load extensions."""
    try:
        if name == "apsw":
            module = importlib.import_module("apsw")
            return Driver("apsw", module, module.Error, module.sqlite_lib_version())
        module = importlib.import_module("pysqlite3.dbapi2" if name == "pysqlite3" else "sqlite3")
    except ImportError as exc:
        raise DriverUnavailable(f"{name}: not installed ({exc})") from None
    probe = module.connect(":memory:")
    try:
        if not hasattr(probe, "enable_load_extension"):
            raise DriverUnavailable(f"{name}: this build of SQLite cannot load extensions")
    finally:
        probe.close()
    return Driver(name, module, module.Error, module.sqlite_version)


def select_driver(preference: DriverName = "auto") -> Driver:
    """The configured binding, or with ``auto`` the first usable one of :data:`ORDER`."""
    if preference != "auto":
        return _load(preference)
    reasons = []
    for name in ORDER:
        try:
            return _load(name)
        except DriverUnavailable as exc:
            reasons.append(str(exc))
    raise DriverUnavailable(
        "no SQLite binding that can load the sqlite-vec extension: "
        + "; ".join(reasons)
        + ". Install one: pip install apsw"
    )
