"""Pin the C allocator's thresholds, so that a timing does not depend on what ran before it.

glibc's malloc serves a large block with a fresh mmap (every page faults in again on first
touch: about 5 µs per 4 KiB page on the development VM) and raises that threshold, up to
32 MiB, to the size of each mapped block freed; it also hands the top of its heap back to
the system past a trim threshold that follows. So the same model measured in a fresh
process, or after a larger one, ran 15-20% apart here (mobilenet_v2: its three largest
tensors were mapped afresh on every pass, 3,500 page faults per pass, until a larger
block had been freed). Measurements and calibration therefore fix both thresholds
(mallopt sets them and turns the dynamic rule off): blocks from 32 MiB up (the dynamic
rule's ceiling) are always mapped afresh, smaller ones always come from the heap, and the
heap is trimmed only past 1 GiB free. Other C libraries are left alone (and say so).

This lasts as long as the process, and cannot be undone: glibc has no way to read the thresholds
back (mallopt has no getter, and malloc_info does not report them), and setting either one turns
its dynamic rule off for good. So in the app, the first measurement or calibration pins the server
process's allocator for the rest of its life, for every session: blocks of 32 MiB and more are
mapped afresh on every allocation, and up to 1 GiB of freed smaller blocks may stay with the
process instead of going back to the system. Pinning is done once per process; later calls
change nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading

MMAP_THRESHOLD = 32 * 2 ** 20
TRIM_THRESHOLD = 2 ** 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)


_LOCK = threading.Lock()
_SAID: list[str] = []  # the sentence of the one pinning this process does


def pin() -> str:
    """Fix glibc malloc's mmap and trim thresholds in this process, for the rest of its life (once: a
    later call changes nothing and says the same); a sentence saying what was done. Not undone after a
    measurement: glibc cannot report the previous thresholds nor return to its dynamic rule (see the
    module)."""
    with _LOCK:
        if not _SAID:
            _SAID.append(_pin())
        return _SAID[0]


def _pin() -> str:
    if platform.libc_ver()[0] != "glibc":
        return "the C library is not glibc: its allocator is left as it is (timings may depend on history)."
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
            libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):
        ok = False
    if not ok:
        return "glibc's mallopt refused the thresholds: the allocator is left as it is."
    return (f"glibc malloc pinned for the life of this process: blocks of {MMAP_THRESHOLD // 2 ** 20} MiB and more "
            f"are mapped afresh, smaller ones come from the heap, trimmed past {TRIM_THRESHOLD // 2 ** 20} MiB.")
