"""Giving the heap's free memory back to the operating system (glibc's ``malloc_trim``).

A worker allocates and frees a little per job (audio buffers, messages, a subprocess's pipes);
glibc keeps freed pages inside its heap, scattered between live blocks, so a long-running worker's
resident size climbs job after job although nothing is leaked (Benchmarks/soak/worker_rss.py).
``malloc_trim(0)`` returns those pages (``madvise``) and costs a few milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_TRIM = _malloc_trim()


def trim() -> bool:
    """Returns free heap pages to the OS; False where the C library has no ``malloc_trim``."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
