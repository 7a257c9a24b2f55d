"""Shared fixtures: engines on each embedded store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from argyll import Engine


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'argyll.db'}"


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[Engine]:
    async with Engine(store_url) as running:
        yield running
