"""Keys a file has held already (duplicate ids, two counts of one position), in bounded memory.

A million keys as a Python set would grow with the file; they go to a scratch SQLite database
in a temporary file instead (removed on close), asked once per batch, by their 64-bit hash (an
integer key is several times faster to insert than text). Two different keys of one file
sharing a hash (odds about 1 in 10^7 for a million keys) would be read as a repeat: the report
then names a line whose key is visibly different.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Sequence


class SeenKeys:
    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="oms-import-", suffix=".db")
        os.close(handle)
        # Used by the read-ahead thread (read_ahead.py), one thread at a time.
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("PRAGMA cache_size = -16384")  # 16 MiB: most of a million keys' pages
        self._db.execute("CREATE TABLE seen (hash INTEGER PRIMARY KEY, line INTEGER NOT NULL)")

    def first_lines(self, keys: Sequence[tuple[str, int]]) -> dict[int, int]:
        """For each (key, line) of a batch that repeats a key seen before (in an earlier batch or
        earlier in this one): its line -> the line the key was first on. The batch's new keys
        are remembered."""
        repeats: dict[int, int] = {}
        first_here: dict[int, int] = {}
        for key, line in keys:
            hashed = hash(key)  # str hashes are stable within a process, which the scratch database is
            if hashed in first_here:
                repeats[line] = first_here[hashed]
            else:
                first_here[hashed] = line
        wanted = (json.dumps(list(first_here)),)
        found = self._db.execute("SELECT hash, line FROM seen WHERE hash IN (SELECT value FROM json_each(?))", wanted)
        earlier: dict[int, int] = dict(found.fetchall())
        for hashed, line in first_here.items():
            if hashed in earlier:
                repeats[line] = earlier[hashed]
        self._db.execute("BEGIN")  # one transaction a batch: a third of the CPU of one a row
        self._db.executemany(
            "INSERT INTO seen (hash, line) VALUES (?, ?)", [(h, n) for h, n in first_here.items() if h not in earlier]
        )
        self._db.execute("COMMIT")
        return repeats

    def close(self) -> None:
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)
