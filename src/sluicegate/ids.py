"""Random identifiers from a buffer of the operating system's random bytes.

Trace ids, budget reservation ids and prompt canaries are made on every request. `secrets` asks
the kernel for each (a getrandom system call); on the bench machine, a virtual machine, one call
took 10 to 50 µs under load (benchmarks/results/compare.json's profiles). The same randomness,
read from the kernel 4 KiB at a time, costs one system call per few hundred identifiers. A child
process made by fork starts with an empty buffer, so no two processes hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

BLOCK_BYTES = 4096


class _RandomBytes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._taken = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._taken + count > len(self._buffer):
                self._buffer, self._taken = os.urandom(max(BLOCK_BYTES, count)), 0
            start = self._taken
            self._taken += count
            return self._buffer[start : self._taken]

    def forget(self) -> None:
        self._buffer, self._taken = b"", 0


_RANDOM = _RandomBytes()
os.register_at_fork(after_in_child=_RANDOM.forget)


def random_hex(nbytes: int) -> str:
    """`nbytes` random bytes as twice as many hex digits (as `secrets.token_hex`)."""
    return _RANDOM.take(nbytes).hex()
