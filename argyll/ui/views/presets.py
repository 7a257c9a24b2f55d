"""Orders to try in one click (the demo's), each with what it shows and why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import panel as pn

from argyll.demo import Preset
from argyll.errors import ArgyllError
from argyll.ui.feed import EngineSource, Schedule
from argyll.ui.format import errors_html, escape, problems_of
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


class PresetsView:
    """A *Run* button per preset, its explanation beside it; running one selects its flow."""

    def __init__(
        self,
        model: DashboardModel,
        engine: EngineSource,
        schedule: Schedule,
        presets: Sequence[Preset],
    ) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.message = html_pane("", sizing_mode="stretch_width")
        rows = [self._row(preset) for preset in presets]
        self.panel = card(
            html_pane("<h3>Try the demo</h3>", margin=(0, 5)),
            *rows,
            self.message,
            sizing_mode="stretch_width",
            css_classes=["argyll-presets"],
            visible=bool(presets),
        )

    def _row(self, preset: Preset) -> pn.Column:
        button = pn.widgets.Button(label=f"▶ {preset.title}", color="primary")

        async def run(_: Any) -> None:
            await self._run(preset)

        button.on_click(run)
        what = (
            f'<p class="muted">goals <code>{escape(", ".join(preset.goals))}</code>, init '
            f"<code>{escape(json.dumps(preset.init))}</code></p><p>{escape(preset.explanation)}</p>"
        )
        return pn.Column(button, html_pane(what, sizing_mode="stretch_width"))

    async def _run(self, preset: Preset) -> None:
        try:
            flow_id = await self.engine.start_flow(preset.goals, preset.init)
        except ArgyllError as exc:
            problems = problems_of(exc)
            self.schedule(lambda: setattr(self.message, "object", errors_html(problems)))
            return
        self.schedule(lambda: self._started(preset, flow_id))

    def _started(self, preset: Preset, flow_id: str) -> None:
        self.message.object = (
            f'<p class="ok">{escape(preset.title)}: started flow <code>{escape(flow_id)}</code></p>'
        )
        self.model.param.update(selected_flow=flow_id, selected_step="", goals=[])
