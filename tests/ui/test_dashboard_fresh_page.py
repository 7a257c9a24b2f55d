"""A page that has just opened follows the engine: a step registered a moment later shows up.

Run many times because the fault it guards against (the page's changes held while its
connection was being set up, so the page kept its first state) struck one page in four.
"""

from __future__ import annotations

import pytest
from test_dashboard import (
    REASON,
    TIMEOUT_MS,
    Served,
    browser,
    demo_drawn,
    served,
    watched_page,
)

from argyll.testing import script_step

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

__all__ = ["browser", "served"]  # the fixtures, shared with test_dashboard

CARD_LISTED = (
    """(id) => Bokeh.documents[0].get_model_by_name("argyll-cards").data.id.includes(id)"""
)


@pytest.mark.parametrize("n", range(12))
async def test_a_step_registered_just_after_a_page_opens_reaches_it(
    browser: object, served: Served, n: int
) -> None:
    session = await watched_page(browser, served.url)  # type: ignore[arg-type]
    step = script_step(f"fresh-{n}", "{:o 1}", outputs=[f"fresh{n}"])
    try:
        await demo_drawn(session)
        await served.engine.register_step(step)
        await session.page.wait_for_function(CARD_LISTED, arg=f"fresh-{n}", timeout=TIMEOUT_MS)
        session.assert_clean()
    finally:
        await session.page.context.close()
        await served.engine.unregister_step(f"fresh-{n}")
