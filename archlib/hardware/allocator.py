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
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform

MMAP_THRESHOLD = 32 * 2 ** 20
TRIM_THRESHOLD = 2 ** 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)


@functools.cache
def pin() -> str:
    """Fix glibc malloc's mmap and trim thresholds in this process (once); a sentence saying what was done."""
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
    return (f"glibc malloc pinned: blocks of {MMAP_THRESHOLD // 2 ** 20} MiB and more are mapped afresh, smaller ones "
            f"come from the heap, trimmed past {TRIM_THRESHOLD // 2 ** 20} MiB.")
