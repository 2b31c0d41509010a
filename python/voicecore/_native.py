"""Loading libvoicecore and turning its status codes into Python exceptions.

The library is looked up in this order: the ``VOICECORE_LIB`` environment variable (a path to the
.so), the copy packaged with this module (``voicecore/_lib/libvoicecore.so``, placed there by
``make build``), then the build tree of a source checkout (``build/lib/libvoicecore.so``).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Callable

ABI_VERSION = 3
"""The ``VC_ABI_VERSION`` this binding was written against."""

_HERE = Path(__file__).resolve().parent


class Error(Exception):
    """An error reported by libvoicecore: ``code`` is the ``VC_ERR_*`` status, ``message`` its text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LibraryNotFound(Error, OSError):
    """libvoicecore could not be located or loaded."""


def _candidates() -> list[Path]:
    env = os.environ.get("VOICECORE_LIB")
    if env:
        return [Path(env)]
    return [_HERE / "_lib" / "libvoicecore.so", _HERE.parent.parent / "build" / "lib" / "libvoicecore.so"]


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if path.is_file():
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as exc:  # wrong architecture, missing libstdc++, ...
                raise LibraryNotFound(-6, f"cannot load {path}: {exc}") from exc
            lib.vc_abi_version.restype = ctypes.c_int
            found = lib.vc_abi_version()
            if found != ABI_VERSION:
                raise LibraryNotFound(-9, f"{path} has ABI version {found}, this binding needs {ABI_VERSION}")
            return lib
        tried.append(str(path))
    raise LibraryNotFound(
        -5, "libvoicecore.so not found (tried: " + ", ".join(tried) + "); run `make build` or set VOICECORE_LIB"
    )


_lib: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    """The loaded library, with every binding's prototypes declared (loaded on first use)."""
    global _lib
    if _lib is None:
        loaded = _load()
        for declare in _DECLARATIONS:
            declare(loaded)
        _lib = loaded
    return _lib


_DECLARATIONS: list[Callable[[ctypes.CDLL], None]] = []


def declares(fn: Callable[[ctypes.CDLL], None]) -> Callable[[ctypes.CDLL], None]:
    """Registers a function that sets argtypes/restype for one component's C functions."""
    _DECLARATIONS.append(fn)
    if _lib is not None:
        fn(_lib)
    return fn


@declares
def _declare_library(l: ctypes.CDLL) -> None:
    l.vc_version.restype = ctypes.c_char_p
    l.vc_version.argtypes = []
    l.vc_strerror.restype = ctypes.c_char_p
    l.vc_strerror.argtypes = [ctypes.c_int]
    l.vc_free.restype = None
    l.vc_free.argtypes = [ctypes.c_void_p]


def strerror(code: int) -> str:
    return lib().vc_strerror(code).decode()


def version() -> str:
    """The library's version string."""
    return lib().vc_version().decode()


def check(code: int, errmsg: Callable[[], bytes | None] | None = None) -> int:
    """Raises ``Error`` for a negative status, with the handle's message when there is one."""
    if code >= 0:
        return code
    message = None
    if errmsg is not None:
        raw = errmsg()
        if raw:
            message = raw.decode("utf-8", "replace")
    raise Error(code, message or strerror(code))


def take_string(ptr: int | None) -> str:
    """Decodes a caller-owned C string and releases it with vc_free."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib().vc_free(ptr)
