"""Errors every store raises in the same way, so the application layer need not know which
store it talks to."""


class StoreError(RuntimeError):
    """A batch could not be made durable."""


class StoreConflict(StoreError):
    """A batch was decided on rows another orchestrator has changed since (a version checked on
    write did not match, or a unique key was taken meanwhile): nothing of it was kept, and it
    must be decided again on what the store holds now."""


class PageTokenError(ValueError):
    """A page token this store did not hand out."""
