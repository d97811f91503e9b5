"""Random identifiers from the buffered kernel randomness: the same shape as `secrets` gives,
never repeated, and never shared with a forked child."""

from __future__ import annotations

import os
import re

from sluicegate.calltrace import new_trace_id
from sluicegate.ids import BLOCK_BYTES, random_hex


def test_hex_of_the_asked_length_and_never_the_same_across_blocks() -> None:
    made = [random_hex(8) for _ in range(3 * BLOCK_BYTES // 8)]  # several refills of the buffer
    assert all(re.fullmatch(r"[0-9a-f]{16}", each) for each in made)
    assert len(set(made)) == len(made)


def test_more_than_a_block_at_once() -> None:
    assert len(random_hex(BLOCK_BYTES + 1)) == 2 * (BLOCK_BYTES + 1)


def test_trace_ids_keep_their_layout() -> None:
    trace_id = new_trace_id()
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)


def test_a_forked_child_does_not_hand_out_the_parents_next_bytes() -> None:
    random_hex(1)  # the parent has a buffer
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writer, random_hex(16).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 64).decode()
    os.close(reader)
    assert from_child != random_hex(16)
