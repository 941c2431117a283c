"""The server's store: one SQLite database in WAL mode, versioned by ``PRAGMA user_version`` with migrations.

Every write that belongs together (a result and its events; a job's end and its result) is one transaction, so
a crash never leaves half of it. Connections are short-lived, one per call, so any thread or process may use it.
"""

from __future__ import annotations

from pathlib import Path

from oddsight.server.store.jobs import JobTables
from oddsight.server.store.results import ResultTables
from oddsight.server.store.schema import (
    EVENT_FIELDS,
    JOB_STATES,
    MIGRATIONS,
    REVIEW_STATES,
    SCHEMA_VERSION,
    all_rows,
    first_row,
    insert_row,
    new_id,
)
from oddsight.server.store.videos import VideoTables

__all__ = [
    "EVENT_FIELDS",
    "JOB_STATES",
    "MIGRATIONS",
    "REVIEW_STATES",
    "SCHEMA_VERSION",
    "Store",
    "all_rows",
    "default_data_dir",
    "first_row",
    "insert_row",
    "new_id",
]


class Store(VideoTables, JobTables, ResultTables):
    """The database at ``folder/oddsight.db``, plus ``uploads/``, ``detectors/`` and ``media/`` beside it; one
    mixin per table group (``videos.py``: videos and detectors, ``jobs.py``, ``results.py``: results and events)
    over ``base.py`` (connections, migrations)."""


def default_data_dir() -> Path:
    """``$ODDSIGHT_HOME/server``: where ``serve`` and ``import`` keep the store unless told otherwise."""
    from oddsight.paths import home

    return home() / "server"
