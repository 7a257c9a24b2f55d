"""Fixtures of the server tests: an in-process engine served over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from server_support import SMALL_BODY_LIMIT, Api, running_api


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with running_api(max_body_size=SMALL_BODY_LIMIT) as served:
        yield served
