"""Durable storage behind one small interface (SQLite is the embedded default)."""

from .base import FlowRunFilter, Page, Store, WriteBatch
from .errors import PageTokenError, StoreError
from .sqlite import SQLiteStore

__all__ = ["FlowRunFilter", "Page", "PageTokenError", "SQLiteStore", "Store", "StoreError", "WriteBatch"]
