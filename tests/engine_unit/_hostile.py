"""A pickle that does something when it is loaded: it creates a marker file. A test that
plants it asserts that the marker does not exist afterwards, i.e. that it was never unpickled."""

from __future__ import annotations

import pickle
from pathlib import Path


class _TouchesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps(_TouchesMarker(marker))
