"""The step graph in the dark theme: background, text, edges and ports change; statuses do not."""

from __future__ import annotations

from argyll import Engine
from argyll.demo import demo_steps
from argyll.ui.graph import GRAPH_THEMES, STATUS_COLORS, Focus, StepGraph


async def test_set_theme_recolours_what_carries_no_meaning() -> None:
    graph = StepGraph(lambda _: None)
    async with Engine("memory://") as engine:
        for definition in demo_steps("http://127.0.0.1:9"):
            await engine.register_step(definition)
        graph.set_catalog(engine.catalog)
    graph.set_focus(Focus(None, {"order-creator": "failed"}, "order-creator"))
    dark = GRAPH_THEMES["dark"]
    graph.set_theme("dark")
    assert graph.figure.background_fill_color == dark.background
    assert set(graph.text_source.data["color"]) == {dark.ink, dark.muted}
    assert set(graph.port_source.data["line"]) == {dark.edge}
    cards = dict(zip(graph.card_source.data["id"], graph.card_source.data["fill"], strict=True))
    assert cards["order-creator"] == STATUS_COLORS["failed"]
    assert cards["user-resolver"] == dark.card
    lines = dict(zip(graph.card_source.data["id"], graph.card_source.data["line"], strict=True))
    assert lines["order-creator"] == dark.ink
    graph.set_theme("light")
    light = GRAPH_THEMES["light"]
    assert set(graph.text_source.data["color"]) == {light.ink, light.muted}
