"""Numbered SQL migrations: discovery and script splitting (applying them is the adapters' job).

Files live in ``server/store/migrations/<dialect>/NNN_name.sql``. Both dialects carry the
same numbers and names, so a version means the same schema on either database.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(folder_name: str) -> list[Migration]:
    """One dialect's migrations in version order; refuses duplicates.

    Gaps are allowed: numbers are handed out to branches developed side by side, so 016 may land
    before 014. ``migrate`` applies every migration the database has not recorded, not just those
    above its highest, so a lower number landing later is still applied."""
    folder = resources.files("server.store").joinpath("migrations", folder_name)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise ValueError(f"migration file {entry.name!r} is not named NNN_name.sql")
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    repeated = sorted({v for v in versions if versions.count(v) > 1})
    if repeated or (versions and versions[0] < 1):
        raise ValueError(f"{folder_name} migrations must have distinct numbers from 001; found {versions}")
    return found


def split_sqlite_script(script: str) -> list[str]:
    """Statements of a script, one by one.

    ``executescript`` would COMMIT the caller's transaction first, so migrations run
    statement by statement; ``sqlite3.complete_statement`` knows about literals,
    comments and trigger bodies, which a split on ';' does not.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if _strip_comments(buffer):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]!r}")
    return [s for s in statements if _strip_comments(s)]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()
