"""The small shared LRU map (``core.lru``): the least recently used entry goes first."""

from __future__ import annotations

from core.lru import Lru


def test_the_least_recently_used_entry_goes_first() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "b" is now the least recently used
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    lru.put("a", 4)  # put again: the newest, with its new value
    lru.put("d", 5)
    assert (lru.get("a"), lru.get("c"), lru.get("d")) == (4, None, 5)
    lru.clear()
    assert lru.get("a") is None
