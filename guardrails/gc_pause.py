"""Pausing Python's cyclic garbage collector while an estate is loaded and analysed.

A scan allocates millions of small objects that live until it ends; the collector would walk all
of them again and again as they accumulate (doubling the time of a large scan) and find nothing
to free, because the estate holds no reference cycles worth collecting.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
