"""The suite of the memos role: memoized results kept, replaced, forgotten and evicted."""

# ruff: noqa: S101 — pytest suites: a failed assert is how a backend fails the contract

from __future__ import annotations

import asyncio

import pytest

from argyll.errors import StoreError
from argyll.memo import Memo
from argyll.model import StepID
from argyll.store.base import EventStore
from argyll.store.contract.support import NOW, WAIT, Suite, at


def memo(step: str = "s", seq: int = 3, flow: str = "f", **outputs: object) -> Memo:
    return Memo(StepID(step), outputs or {"out": seq}, flow, seq, at(seq))


RICH_OUTPUTS = {
    "text": 'héllo, 世界 🌍 "quoted"\n',
    "numbers": [0, -3, 2.5, 1e300],
    "nested": {"none": None, "flags": [True, False], "deep": {"empty": {}, "list": []}},
}


class MemosContract(Suite):
    """memo_get, memo_put, memo_forget: results by key, bounded, least recently used out."""

    async def keys_kept(self, store: EventStore, keys: str) -> str:
        """Which of the one-letter ``keys`` the store still holds (a look counts as a use)."""
        return "".join([key for key in keys if await store.memo_get(key) is not None])

    async def test_a_kept_memo_reads_back_as_it_was_put(self, store: EventStore) -> None:
        kept = Memo(StepID("lookup"), RICH_OUTPUTS, "flow-1", 7, NOW)

        await store.memo_put("k", kept)

        assert await store.memo_get("k") == kept
        assert await store.memo_get("k") == kept
        assert await store.memo_get("unknown") is None

    async def test_a_memo_is_a_copy_of_the_outputs_put(self, store: EventStore) -> None:
        outputs: dict[str, object] = {"out": [1]}
        await store.memo_put("k", Memo(StepID("s"), outputs, "f", 1, NOW))
        outputs["out"] = "changed"

        first = await store.memo_get("k")
        assert first is not None and first.outputs == {"out": [1]}
        first.outputs["out"].append(2)  # type: ignore[attr-defined]
        again = await store.memo_get("k")
        assert again is not None and again.outputs == {"out": [1]}

    async def test_a_put_replaces_what_the_key_held(self, store: EventStore) -> None:
        await store.memo_put("k", memo(seq=1))
        await store.memo_put("k", memo(seq=2, flow="g"))

        assert await store.memo_get("k") == memo(seq=2, flow="g")

    async def test_forgetting_a_step_drops_its_memos_only(self, store: EventStore) -> None:
        await store.memo_put("a1", memo("a", 1))
        await store.memo_put("a2", memo("a", 2))
        await store.memo_put("b1", memo("b", 1))

        assert await store.memo_forget("a") == 2
        assert await store.memo_forget("a") == 0
        assert await store.memo_forget("never memoized") == 0
        assert await store.memo_get("a1") is None
        assert await store.memo_get("a2") is None
        assert await store.memo_get("b1") == memo("b", 1)

    async def test_a_key_moved_to_another_step_is_forgotten_with_the_new_one(
        self, store: EventStore
    ) -> None:
        await store.memo_put("k", memo("a"))
        await store.memo_put("k", memo("b"))

        assert await store.memo_forget("a") == 0
        assert await store.memo_forget("b") == 1
        assert await store.memo_get("k") is None

    async def test_beyond_the_limit_the_least_recently_put_goes_first(
        self, store: EventStore
    ) -> None:
        store.memo_limit = 3
        for key in "abcd":
            await store.memo_put(key, memo(key))

        assert await self.keys_kept(store, "abcd") == "bcd"

    async def test_a_hit_keeps_a_memo_from_being_evicted(self, store: EventStore) -> None:
        store.memo_limit = 3
        for key in "abc":
            await store.memo_put(key, memo(key))
        await store.memo_get("a")
        await store.memo_put("d", memo("d"))  # b is now the least recently used
        await store.memo_put("c", memo("c", seq=9))  # a put again is a use: a goes next
        await store.memo_put("e", memo("e"))

        assert await self.keys_kept(store, "abcde") == "cde"
        assert await store.memo_forget("b") == 0
        assert await store.memo_forget("a") == 0

    async def test_a_lower_limit_evicts_down_to_it_at_the_next_put(self, store: EventStore) -> None:
        for key in "abcdef":
            await store.memo_put(key, memo(key))
        store.memo_limit = 2

        await store.memo_put("g", memo("g"))

        assert await self.keys_kept(store, "abcdefg") == "fg"

    async def test_concurrent_puts_and_hits_stay_within_the_limit(self, store: EventStore) -> None:
        store.memo_limit = 10
        async with asyncio.timeout(WAIT):
            await asyncio.gather(
                *(store.memo_put(f"k{n}", memo(f"s{n % 3}", n)) for n in range(40)),
                *(store.memo_get(f"k{n}") for n in range(40)),
            )

        kept = [n for n in range(40) if await store.memo_get(f"k{n}") is not None]
        assert len(kept) == 10
        forgotten = [await store.memo_forget(f"s{n}") for n in range(3)]
        assert sum(forgotten) == 10

    async def test_a_closed_store_refuses_memo_calls(self, store: EventStore) -> None:
        await store.aclose()

        with pytest.raises(StoreError):
            await store.memo_get("k")
        with pytest.raises(StoreError):
            await store.memo_put("k", memo())
        with pytest.raises(StoreError):
            await store.memo_forget("s")
