"""Numbered SQL migrations: discovery and script splitting (applying them is the adapters' job).

Files live in ``server/store/migrations/<dialect>/NNN_name.sql``. Both dialects carry the
same numbers and names, so a version means the same schema on either database.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

MAX_GAP = 3  # numbers handed out but not landed yet
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(folder_name: str) -> list[Migration]:
    """One dialect's migrations in version order; refuses duplicates and wild numbers (typos)."""
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
    # Numbers are handed to branches in advance, so 015 may land before 014: a gap is allowed
    # (each migration is applied by its own version, never "everything above the highest").
    # A number used twice, or one far past the others (a typo: 105 for 015), is refused.
    if len(set(versions)) != len(versions) or (versions and versions[-1] > len(versions) + MAX_GAP):
        raise ValueError(
            f"{folder_name} migrations must be numbered 1..n, each once (gaps of at most {MAX_GAP}); found {versions}"
        )
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
