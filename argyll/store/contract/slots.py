"""The suite of the slots role: concurrency slots granted, queued, handed over and reaped."""

# ruff: noqa: S101, S106, S107 — pytest suites: a failed assert is how a backend fails the contract; "token" arguments are work-item names, not passwords

from __future__ import annotations

import asyncio

from argyll.store.base import EventStore, SlotAnswer, SlotHolder
from argyll.store.contract.support import (
    WAIT,
    Suite,
)

# --------------------------------------------------------------------- slots

GRANTED, WAITING = SlotAnswer.GRANTED, SlotAnswer.WAITING


def holder(flow: str, instance: str = "engine-1", step: str = "s", token: str = "t") -> SlotHolder:
    return SlotHolder(instance, flow, step, token)


class SlotsContract(Suite):
    """acquire_slot, release_slot, slot_holders, slot_waiters, reap_slots: a step's limit."""

    async def ask_all(self, store: EventStore, flows: str, limit: int) -> list[SlotAnswer]:
        return [await store.acquire_slot(holder(flow), limit) for flow in flows]

    async def test_slots_are_granted_up_to_the_limit_and_the_rest_wait_in_order(
        self, store: EventStore
    ) -> None:
        assert await self.ask_all(store, "abcde", 2) == [GRANTED] * 2 + [WAITING] * 3

        assert await store.slot_holders("s") == [holder("a"), holder("b")]
        assert await store.slot_waiters("s") == [holder("c"), holder("d"), holder("e")]
        assert await store.slot_holders("other") == []
        assert await store.slot_waiters("other") == []

    async def test_asking_again_keeps_the_slot_or_the_place_in_line(
        self, store: EventStore
    ) -> None:
        await self.ask_all(store, "abc", 1)

        assert await self.ask_all(store, "cba", 1) == [WAITING, WAITING, GRANTED]
        assert await store.slot_holders("s") == [holder("a")]
        assert await store.slot_waiters("s") == [holder("b"), holder("c")]

    async def test_a_freed_slot_goes_to_the_first_in_line(self, store: EventStore) -> None:
        await self.ask_all(store, "abcde", 2)

        assert await store.release_slot(holder("a"), 2) == [holder("c")]
        assert await self.ask_all(store, "edc", 2) == [WAITING, WAITING, GRANTED]
        assert await store.release_slot(holder("b"), 2) == [holder("d")]
        assert await store.acquire_slot(holder("d"), 2, join=False) is GRANTED
        assert await store.slot_holders("s") == [holder("c"), holder("d")]
        assert await store.slot_waiters("s") == [holder("e")]

    async def test_a_release_fills_every_free_slot_in_order(self, store: EventStore) -> None:
        await store.heartbeat("engine-1", 60.0)
        await store.heartbeat("dead", 0.0)
        await store.acquire_slot(holder("a", instance="dead"), 1)
        await self.ask_all(store, "bcde", 1)
        await store.reap_slots()  # a slot freed without a grant

        granted = await store.release_slot(holder("never-asked"), 3)

        assert granted == [holder("b"), holder("c"), holder("d")]
        assert await store.slot_waiters("s") == [holder("e")]

    async def test_a_released_waiter_leaves_the_line_and_a_poll_does_not_rejoin(
        self, store: EventStore
    ) -> None:
        await self.ask_all(store, "abc", 1)
        assert await store.release_slot(holder("b", instance="another engine"), 1) == []
        assert await store.release_slot(holder("never-asked", step="unknown"), 1) == []

        assert await store.acquire_slot(holder("b"), 1, join=False) is SlotAnswer.ABSENT
        assert await store.slot_waiters("s") == [holder("c")]
        assert await store.release_slot(holder("a"), 1) == [holder("c")]
        assert await store.acquire_slot(holder("c"), 1, join=False) is GRANTED

    async def test_an_item_asked_for_by_another_instance_is_elsewhere(
        self, store: EventStore
    ) -> None:
        await self.ask_all(store, "ab", 1)

        for flow in "ab":
            other = holder(flow, instance="engine-2")
            assert await store.acquire_slot(other, 1) is SlotAnswer.ELSEWHERE
        assert await store.slot_holders("s") == [holder("a")]
        assert await store.slot_waiters("s") == [holder("b")]

    async def test_items_are_told_apart_by_step_and_token(self, store: EventStore) -> None:
        assert await store.acquire_slot(holder("a", step="x"), 1) is GRANTED
        assert await store.acquire_slot(holder("a", step="y"), 1) is GRANTED
        assert await store.acquire_slot(holder("a", step="x", token="u"), 1) is WAITING

        assert await store.release_slot(holder("a", step="y"), 1) == []
        assert await store.slot_holders("x") == [holder("a", step="x")]
        assert await store.slot_holders("y") == []

    async def test_a_lower_limit_holds_back_new_grants(self, store: EventStore) -> None:
        await self.ask_all(store, "abc", 3)

        assert await store.acquire_slot(holder("d"), 1) is WAITING
        assert await store.release_slot(holder("a"), 1) == []
        assert await store.release_slot(holder("b"), 1) == []
        assert await store.acquire_slot(holder("d"), 1) is WAITING
        assert await store.release_slot(holder("c"), 1) == [holder("d")]
        assert await store.acquire_slot(holder("d"), 1) is GRANTED

    async def test_racing_askers_never_get_more_slots_than_the_limit(
        self, store: EventStore
    ) -> None:
        askers = [holder(f"f{n}", instance=f"engine-{n % 3}") for n in range(30)]

        async with asyncio.timeout(WAIT):
            answers = await asyncio.gather(*(store.acquire_slot(h, 4) for h in askers))

        granted = [h for h, answer in zip(askers, answers, strict=True) if answer is GRANTED]
        assert len(granted) == 4
        assert sorted(await store.slot_holders("s"), key=str) == sorted(granted, key=str)
        assert len(await store.slot_waiters("s")) == 26

    async def test_reaping_frees_what_instances_with_a_lapsed_lease_held(
        self, store: EventStore
    ) -> None:
        await store.heartbeat("alive", 60.0)
        await store.heartbeat("dead", 0.0)  # lapses as it is given
        for flow in "ab":
            await store.acquire_slot(holder(flow, instance="dead"), 2)
        for flow, instance in [("c", "dead"), ("d", "alive"), ("e", "never-seen")]:
            await store.acquire_slot(holder(flow, instance=instance), 2)
        await store.acquire_slot(holder("a", instance="dead", step="other"), 2)

        assert await store.reap_slots() == 5
        assert await store.reap_slots() == 0
        assert await store.slot_holders("s") == []
        assert await store.slot_holders("other") == []
        assert await store.slot_waiters("s") == [holder("d", instance="alive")]
        assert await store.acquire_slot(holder("d", instance="alive"), 2) is GRANTED

    async def test_a_retired_instance_s_slots_are_reaped(self, store: EventStore) -> None:
        await store.heartbeat("engine-1", 60.0)
        await self.ask_all(store, "ab", 1)
        await store.retire("engine-1")

        assert await store.reap_slots() == 2
        assert await store.slot_holders("s") == []
