"""Freed CPU memory is kept for reuse (glibc), once per process."""
import ctypes.util
import pytest
import sys

from mmseg_refiner.models.utils.cpu_memory import keep_freed_cpu_memory


@pytest.mark.skipif(
    not sys.platform.startswith('linux') or ctypes.util.find_library('c') is None,
    reason='glibc mallopt exists on Linux only')
def test_glibc_takes_the_thresholds_once():
    assert keep_freed_cpu_memory() is True
    assert keep_freed_cpu_memory.cache_info().currsize == 1
    assert keep_freed_cpu_memory() is True
