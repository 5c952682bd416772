"""Errors every store raises in the same way, so the application layer need not know which
store it talks to."""


class StoreError(RuntimeError):
    """A batch could not be made durable."""


class PageTokenError(ValueError):
    """A page token this store did not hand out."""
