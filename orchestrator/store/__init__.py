"""Durable storage behind one small interface (SQLite is the embedded default)."""

from .base import Store, WriteBatch
from .sqlite import SQLiteStore

__all__ = ["Store", "WriteBatch", "SQLiteStore"]
