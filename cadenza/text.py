"""How services quote what a client sent back in an error: cut short, so that a huge value
echoed whole cannot make the error too big to send (gRPC caps status details with the
metadata, and the client would see RESOURCE_EXHAUSTED instead of the real refusal)."""

from __future__ import annotations

ECHO_LIMIT = 60
DETAILS_LIMIT = 2000


def echo(value: object) -> str:
    """A value as a person would type it, cut short when long."""
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}... ({len(text)} characters)"


def fit_details(message: str) -> str:
    """A status message that always fits: the last guard behind every echo."""
    if len(message) <= DETAILS_LIMIT:
        return message
    return f"{message[:DETAILS_LIMIT]}... (cut short: {len(message)} characters)"
