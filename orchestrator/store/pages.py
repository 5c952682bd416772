"""Page tokens, the same for every store: a token names the position (in creation order) of
the last item of the page before, so a page read later never repeats or skips an item."""

from __future__ import annotations

import base64

from .errors import PageTokenError

MAX_PAGE = 1000


def page_limit(page_size: int) -> int:
    """How many items a page holds: 0 asks for the default, and nobody gets more than the cap."""
    return min(page_size or 100, MAX_PAGE)


def encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, value = text.partition(":")
        seq = int(value)
        if prefix != "seq" or not 0 <= seq < 2**63:  # both stores count in signed 64-bit integers
            raise ValueError
        return seq
    except (ValueError, UnicodeDecodeError) as exc:
        raise PageTokenError("page_token is not a token returned by a previous page") from exc
