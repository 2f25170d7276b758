from __future__ import annotations

from kassa.core.ids import has_prefix, new_id


def test_ids_carry_their_prefix_and_sort_by_creation_time() -> None:
    earlier = new_id("pay", now_ms=1_700_000_000_000)
    later = new_id("pay", now_ms=1_700_000_000_001)
    assert earlier.startswith("pay_") and has_prefix(earlier, "pay")
    assert not has_prefix(earlier, "re")
    assert earlier < later


def test_ids_do_not_collide() -> None:
    assert len({new_id("evt") for _ in range(10_000)}) == 10_000


def test_ulid_digits_are_crockford_base32_of_the_value() -> None:
    import random

    from kassa.core.ids import ulid_chars

    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    rng = random.Random(7)
    for value in [0, 1, 2**128 - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        expected = "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))
        assert ulid_chars(value) == expected


def test_a_forked_child_never_reuses_its_parents_random_bytes() -> None:
    import os

    new_id("evt")  # the parent has a buffer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave
        os.write(write, new_id("evt").encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    parent = new_id("evt")
    assert child[-16:] != parent[-16:]  # the random parts differ
