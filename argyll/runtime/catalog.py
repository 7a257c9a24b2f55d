"""The engine's catalog: registering, updating and removing steps, and keeping it current.

The catalog is folded from its own aggregate; a change is decided by a rule of
``argyll.catalog`` against the catalog this engine holds and appended at that
version, and a stale engine reads what others appended and decides again. A changed
or removed step's memos are dropped after the change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from argyll import catalog as catalog_rules
from argyll.apply import CATALOG_APPLIERS, fold
from argyll.errors import ConflictError, NotFoundError, StoreError, ValidationError, VersionConflict
from argyll.events import ANONYMOUS, CATALOG, Event, EventData
from argyll.model import Catalog, Step, StepRegistration, json_text, parse_step
from argyll.outbound import OutboundPolicy, step_problems
from argyll.runtime.clock import Clock
from argyll.runtime.scripts import check_scripts
from argyll.store import EventStore

log = logging.getLogger("argyll.engine")

APPEND_ATTEMPTS = 20

Append = Callable[[str, int, Sequence[EventData], datetime], Awaitable[list[Event]]]
"""``(aggregate, expected, events, now) -> stored``: the engine's timed append."""


class CatalogKeeper:
    """The catalog one engine holds, and every change it makes to it."""

    def __init__(
        self,
        store: Callable[[], EventStore],
        append: Append,
        clock: Clock,
        outbound: OutboundPolicy,
    ) -> None:
        self.catalog = Catalog()
        self._store, self._append, self._clock, self._outbound = store, append, clock, outbound

    async def load(self) -> None:
        """The catalog as the store has it, folded from the start."""
        self.catalog = fold(Catalog(), await self._store().read(CATALOG), CATALOG_APPLIERS)

    async def submit(
        self, definition: Mapping[str, Any] | Step, actor: str = ANONYMOUS
    ) -> StepRegistration:
        step = self.parse(definition)
        created = await self.change(lambda cat: catalog_rules.on_register(cat, step, actor))
        return StepRegistration(step, created)

    async def update(
        self, step_id: str, definition: Mapping[str, Any] | Step, actor: str = ANONYMOUS
    ) -> Step:
        step = self.parse(definition, step_id)
        if await self.change(lambda cat: catalog_rules.on_update(cat, step, actor)):
            await self._forget_memos(step.id)
        return step

    async def unregister(self, step_id: str, actor: str = ANONYMOUS) -> None:
        await self.change(lambda cat: catalog_rules.on_unregister(cat, step_id, actor))
        await self._forget_memos(step_id)

    def get_step(self, step_id: str) -> Step:
        step = self.catalog.steps.get(step_id)  # type: ignore[call-overload]
        if step is None:
            raise NotFoundError("step", step_id)
        return step

    def parse(self, definition: Mapping[str, Any] | Step, step_id: str | None = None) -> Step:
        if isinstance(definition, Step):
            if step_id is not None and definition.id != step_id:
                raise ValidationError(
                    [("id", f"{json_text(definition.id)} does not match {json_text(step_id)}")]
                )
            step = definition
        else:
            step = parse_step(definition, step_id)
        problems = [*check_scripts(step), *step_problems(self._outbound, step)]
        if problems:
            raise ValidationError(problems)
        return step

    async def change(self, rule: Callable[[Catalog], list[EventData]]) -> bool:
        """Apply a catalog rule; True when it appended something, False when nothing changed."""
        for _ in range(APPEND_ATTEMPTS):
            events = rule(self.catalog)
            if not events:
                return False
            try:
                stored = await self._append(
                    CATALOG, self.catalog.version, events, self._clock.now()
                )
            except VersionConflict:
                await self.refresh()
                continue
            self.catalog = fold(self.catalog, stored, CATALOG_APPLIERS)
            return True
        raise ConflictError("the catalog kept changing under this request; try again")

    async def refresh(self) -> None:
        """Fold in what others appended to the catalog since this engine's version."""
        newer = await self._store().read(CATALOG, after=self.catalog.version)
        self.catalog = fold(self.catalog, newer, CATALOG_APPLIERS)

    async def _forget_memos(self, step_id: str) -> None:
        """Drop a changed or removed step's memos; the change stands even if the store fails.

        A memo the store could not drop is never hit by the changed step (its key holds
        the definition); only the same definition registered again would find it.
        """
        try:
            await self._store().memo_forget(step_id)
        except StoreError as error:
            log.warning("memos not forgotten: %s", error, extra={"step_id": step_id})
