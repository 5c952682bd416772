"""Durable storage behind one small interface: SQLite (the embedded default, a file) or
PostgreSQL (a postgresql:// URL); `choice.store_for` picks by the location given."""

from .base import FlowRunFilter, Page, Store, WriteBatch
from .errors import PageTokenError, StoreError
from .sqlite import SQLiteStore

__all__ = ["FlowRunFilter", "Page", "PageTokenError", "SQLiteStore", "Store", "StoreError", "WriteBatch"]
