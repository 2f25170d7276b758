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
