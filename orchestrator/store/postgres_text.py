"""Names and keys as the PostgreSQL store's text columns hold them.

PostgreSQL's text cannot hold NUL, which a client's names and keys may (SQLite's text can). In
the columns that are looked up or filtered on, NUL is written \\0 and a backslash \\\\: an escape
that keeps distinct values distinct, applied alike to what is written and to what is looked up.
Documents need none: JSON escapes NUL itself, and the documents are what reads return.
"""

from __future__ import annotations

from typing import overload


@overload
def pg_text(value: str) -> str: ...
@overload
def pg_text(value: None) -> None: ...
def pg_text(value: str | None) -> str | None:
    if value is None or ("\x00" not in value and "\\" not in value):
        return value
    return value.replace("\\", "\\\\").replace("\x00", "\\0")


def pg_texts(values: list[str]) -> list[str]:
    return [pg_text(value) for value in values]
