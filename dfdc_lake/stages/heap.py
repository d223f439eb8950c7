"""The process heap of a worker that decodes clip after clip, through glibc (``mallopt``, ``malloc_trim``).

Kept apart from decoding: it is about the process, not the video. Where glibc is missing (or not the
C library), every call is a no-op.
"""

from __future__ import annotations

from typing import Any

__all__ = ["keep_freed_heap", "release_free_memory", "resident_bytes"]

# A process holding more than this after a segment gives its free heap pages back to the OS. Below it,
# freed pages stay for the next clip: trimming after every clip made the next one fault all of them in
# again (~90,000 page faults, about a tenth of a fake's CPU, measured on the real sample clips).
TRIM_ABOVE_BYTES = 1 << 30
# glibc gives back the free top of its heap past this on its own (default: at most 64 MB), and serves
# blocks up to 32 MB (a few 1080p frames) from the heap instead of fresh zeroed mmap pages.
HEAP_TRIM_THRESHOLD_BYTES = 512 << 20
HEAP_MMAP_THRESHOLD_BYTES = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def release_free_memory(above_bytes: int = TRIM_ABOVE_BYTES) -> bool:
    """Give memory freed by the last segment back to the OS once the process holds ``above_bytes``.

    A segment's frames pass through many few-MB temporaries (colour conversion, downscaling); glibc's
    heap keeps their pages, so without a trim a worker's RSS creeps up segment after segment of a long
    video. Returns whether it trimmed.
    """
    libc = _libc()
    if not libc or not hasattr(libc, "malloc_trim"):
        return False
    resident = resident_bytes()
    if resident is not None and resident <= above_bytes:
        return False
    libc.malloc_trim(0)
    return True


def keep_freed_heap() -> None:
    """Set glibc's heap thresholds for a worker that decodes clip after clip (once per process)."""
    libc = _libc()
    if libc and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD_BYTES)


def resident_bytes() -> int | None:
    """This process's resident memory now (None where ``/proc`` is missing)."""
    import os

    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        _LIBC = ctypes.CDLL(name) if name else False
    return _LIBC


_LIBC: Any = None
