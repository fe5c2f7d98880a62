"""Keep freed CPU memory for reuse, so inference does not page-fault on every feature map.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB)
with a fresh ``mmap`` and returns it to the system on ``free``. A feature map of
the published U-Net at batch 2 is 32-64 MiB, so every layer's output used to
start as untouched pages that the kernel faults in and zeroes, one 4 KiB page
at a time: measured on this project's CPU, that took 35-40 % of a forward, in
float32 and in bf16 alike. :func:`keep_freed_cpu_memory` raises the mmap and
trim thresholds, once per process, so such blocks come from the heap and are
reused by the next layer: the peak memory is the same, but the process keeps
it until it exits. It changes no result.

Called where ``SegRefiner`` runs its network on the CPU; elsewhere (no glibc,
e.g. macOS or Windows) it does nothing.
"""
import ctypes
import ctypes.util
import functools

#: ``mallopt`` parameters (glibc ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap; freed memory up to this size stays in it.
_THRESHOLD = 1 << 30


@functools.lru_cache(maxsize=None)
def keep_freed_cpu_memory() -> bool:
    """Set glibc's mmap and trim thresholds to 1 GiB, once; True if glibc took them."""
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
