"""The store's connections and schema migrations: the base every table group (mixin) of :class:`Store` builds on."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oddsight.errors import OutputError
from oddsight.server.store.schema import MIGRATIONS, SCHEMA_VERSION


class StoreBase:
    """The database at ``folder/oddsight.db``, plus ``uploads/``, ``detectors/`` and ``media/`` beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            for sub in ("uploads", "detectors", "media"):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot make the server's data folder ({exc.strerror})") from None
        self.path = self.folder / "oddsight.db"
        self._local = threading.local()
        self.migrate()

    # --- connections and schema ---------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block is one transaction: committed at the end, rolled back on any error."""
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot open the database ({exc})") from None
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection, kept open per thread: reads take no write lock (WAL lets them run beside a
        writer), and each query sees one consistent snapshot."""
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except sqlite3.Error as exc:
                raise OutputError(f"{self.path}: cannot open the database ({exc})") from None
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA query_only=ON")
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
        yield con

    def migrate(self) -> int:
        """Bring the schema to ``SCHEMA_VERSION``; a database from a newer oddsight is refused."""
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise OutputError(f"{self.path}: not an oddsight database ({exc})") from None
        try:
            if version > SCHEMA_VERSION:
                raise OutputError(f"{self.path}: schema {version} is newer than this oddsight's ({SCHEMA_VERSION})")
            for number in range(version, SCHEMA_VERSION):
                con.execute("BEGIN IMMEDIATE")
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version={number + 1}")
                con.execute("COMMIT")
        finally:
            con.close()
        return SCHEMA_VERSION
