"""Hearing what other orchestrators on the same PostgreSQL database committed: LISTEN on a
connection of its own, each note handed on as it arrives.

Notes sent while the connection was down are lost (PostgreSQL keeps none for a listener that
is not there), so after every (re)connection `on_gap` is called first: whoever relies on the
notes (caches, watchers) assumes it missed some.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from .errors import StoreError
from .postgres_connect import connect_async
from .postgres_url import PostgresLocation
from .postgres_writes import CHANGES_CHANNEL

log = logging.getLogger("cadenza.orchestrator.store")

RECONNECT_SECONDS = 0.5


async def listen_for_notes(
    location: PostgresLocation, on_note: Callable[[str], None], on_gap: Callable[[], None]
) -> None:
    while True:
        conn: psycopg.AsyncConnection | None = None
        try:
            conn = await connect_async(location, "listen")
            await conn.execute(f"LISTEN {CHANGES_CHANNEL}")
            on_gap()
            async for notify in conn.notifies():
                try:
                    on_note(notify.payload)
                except Exception:  # one bad note must not deafen this orchestrator
                    log.exception("a change note from another orchestrator could not be applied")
        except (psycopg.Error, StoreError) as exc:
            log.warning("%s", location.hide(f"listening for other orchestrators' changes failed: {exc}"))
        finally:
            if conn is not None:
                await conn.close()
        await asyncio.sleep(RECONNECT_SECONDS)
