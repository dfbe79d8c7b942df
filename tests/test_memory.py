"""The process's allocator: the console script keeps glibc to a few malloc arenas, so memory the
solve's threads free is reused instead of held per thread (a 50,000-child run's peak)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Four threads allocate and free, then glibc's malloc_info lists the arenas (one <heap> each).
PROBE = """
import ctypes, sys, threading
import numpy as np
if sys.argv[1] == "few":
    from rebalancer.entry import few_arenas
    assert few_arenas()
def churn():
    for _ in range(200):
        np.ones(20_000).sum()
threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.open_memstream.restype = ctypes.c_void_p
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(buf.value.decode().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_console_script_keeps_the_allocator_to_two_arenas() -> None:
    assert _arenas("many") > 2  # the threads' own arenas, as glibc does by default
    assert _arenas("few") <= 2
