"""The ids a piece's accepted rows have taken (id -> first row), in memory bounded whatever the row count.

A file that cannot be cut into byte ranges (gzip, CSV/TSV, JSON documents, archives) is one piece, so its
duplicate-id check must know every id of the file: about 100 bytes each in a dict, over 1 GB for 10 million
rows, more than the preprocess function's MemorySize. `TakenIds` keeps them in a dict up to `in_memory` ids
(a small file is checked as fast as ever), then moves them, a batch at a time, into a SQLite database under
the temporary folder (/tmp on Lambda, sized by the function's EphemeralStorage) and answers from the dict,
then the database. Memory is then the dict's batch plus SQLite's page cache (CACHE_KIB), not the file: see
docs/benchmarks.md, "Duplicate-id check at 10 million ids".

The database file is unlinked as soon as it is open: its space goes back when the connection closes
(`close`, or the context manager), and also when a process dies without closing it (a Lambda timeout), so
no file is left behind in a warm environment's /tmp. A new invocation rebuilds it from the id files the
checkpoints wrote (logic/pieces.py).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping
    from types import TracebackType

DEFAULT_IN_MEMORY = 200_000  # ids held in the dict before it moves them to SQLite (about 30 MB)
CACHE_KIB = 16 * 1024  # SQLite's page cache; the operating system's page cache serves the rest
FILE_PREFIX = "taken-ids-"

# No journal and no fsync: the database is a private scratch file rebuilt by the next invocation, never
# rolled back or read after a crash. One connection, so an exclusive lock is taken once.
_PRAGMAS = (
    "journal_mode=OFF",
    "synchronous=OFF",
    "locking_mode=EXCLUSIVE",
    f"cache_size=-{CACHE_KIB}",
)
_LOOKUP = "SELECT row FROM taken WHERE id = ?"


class TakenIds:
    """Review id -> the row that took it first: a dict, then SQLite once `in_memory` ids are held."""

    def __init__(self, in_memory: int = DEFAULT_IN_MEMORY, folder: str | None = None) -> None:
        self._in_memory = max(1, in_memory)
        self._folder = folder
        self._recent: dict[str, int] = {}  # taken since the last move into the database
        self._db: sqlite3.Connection | None = None
        self._stored = 0  # ids in the database

    def __enter__(self) -> TakenIds:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._recent) + self._stored

    @property
    def spilled(self) -> bool:
        """Whether some ids live in the database (the file is over `in_memory` ids)."""
        return self._db is not None

    @property
    def database_bytes(self) -> int:
        """The database's size on disk (what the ids take of /tmp); 0 while they are all in the dict."""
        if self._db is None:
            return 0
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        return int(pages * self._db.execute("PRAGMA page_size").fetchone()[0])

    def first_row(self, review_id: str) -> int | None:
        """The row that took this id, or None if it is free."""
        row = self._recent.get(review_id)
        if row is None and self._db is not None:
            found = self._db.execute(_LOOKUP, (review_id,)).fetchone()
            row = found[0] if found else None
        return row

    def add(self, review_id: str, row: int) -> None:
        """`review_id` is taken by `row` (the caller checked that it was free)."""
        self._recent[review_id] = row
        if len(self._recent) >= self._in_memory:
            self._move_to_database()

    def update(self, rows_by_id: Mapping[str, int]) -> None:
        """Ids taken before (an earlier invocation's id file: each id is in one file only, none is known)."""
        for review_id, row in rows_by_id.items():
            self.add(review_id, row)

    def close(self) -> None:
        """Forget every id; the database's space goes back to /tmp."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._recent.clear()
        self._stored = 0

    def _move_to_database(self) -> None:
        db = self._db or self._open()
        # In key order: each page of the B-tree is written once per batch, not once per id.
        with db:
            db.executemany("INSERT OR IGNORE INTO taken VALUES (?, ?)", sorted(self._recent.items()))
        self._stored += len(self._recent)
        self._recent.clear()

    def _open(self) -> sqlite3.Connection:
        import sqlite3  # here: a file under `in_memory` ids (and a cold start) never pays for the import

        handle, path = tempfile.mkstemp(prefix=FILE_PREFIX, suffix=".sqlite", dir=self._folder)
        os.close(handle)
        try:
            db = sqlite3.connect(path)
            for pragma in _PRAGMAS:
                db.execute(f"PRAGMA {pragma}")
            db.execute("CREATE TABLE taken (id TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
        finally:
            os.unlink(path)  # SQLite keeps the file open; with no journal it never opens it by name again
        self._db = db
        return db
