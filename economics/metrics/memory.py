"""Giving memory freed by a large computation back to the operating system.

Reading ten million rows and working on them frees many blocks of a few hundred
kilobytes. glibc's allocator keeps such blocks for reuse rather than returning them, so
a process that has freed half of what it used still holds it all. ``release_freed_memory``
asks the allocator to return what it can (``malloc_trim``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return None


def release_freed_memory() -> None:
    """Return the memory the allocator holds but no object uses (a few milliseconds)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
