"""The step graph: every step as a card, laid out in layers from producers to consumers.

``layout`` is pure (networkx over the catalog); ``StepGraph`` draws it with
Bokeh glyphs in data units, so cards keep their shape under pan and zoom and a
small CustomJS callback rescales the text to match. Changing what stands out
(a plan, a flow's statuses, the selected step) only patches colour and alpha
columns; the cards are rebuilt only when the catalog changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import networkx as nx
from bokeh.events import Tap
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    DataRange1d,
    HoverTool,
    TapTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from argyll.model import AttributeSpec, Catalog, HealthStatus, Role, Step, StepID, StepType
from argyll.ui.model import StepRole, step_role

CARD_WIDTH = 6.6
HEADER = 0.9
ROW = 0.5
FOOTER = 0.7
GAP_X = 2.4
GAP_Y = 1.0
TITLE_SIZE = 0.42
ROW_SIZE = 0.34
FOOTER_SIZE = 0.3
MONO_CHAR = 0.6
SANS_CHAR = 0.58
PORT_RADIUS = 0.11
FADED = 0.15
DEFAULT_PX_PER_UNIT = 22.0

ROLE_COLORS: Mapping[StepRole, str] = {
    StepRole.RESOLVER: "#0ea5e9",
    StepRole.PROCESSOR: "#8b5cf6",
    StepRole.COLLECTOR: "#f59e0b",
}
STATUS_COLORS: Mapping[str, str] = {
    "pending": "#cbd5e1",
    "active": "#3b82f6",
    "completed": "#22c55e",
    "failed": "#ef4444",
    "skipped": "#a8a29e",
}
HEALTH_COLORS: Mapping[HealthStatus, str] = {
    HealthStatus.HEALTHY: "#22c55e",
    HealthStatus.UNHEALTHY: "#ef4444",
    HealthStatus.UNKNOWN: "#94a3b8",
}
TYPE_ICONS: Mapping[StepType, str] = {
    StepType.SYNC: "⇄",
    StepType.ASYNC: "↻",
    StepType.SCRIPT: "λ",
    StepType.FLOW: "⧉",
}
EDGE_COLOR = "#475569"
INK = "#0f172a"
MUTED = "#64748b"


@dataclass(frozen=True, slots=True)
class GraphColours:
    """The colours of one theme that do not say anything: ink, background, card, edges."""

    background: str
    card: str
    ink: str
    muted: str
    edge: str
    hollow: str


GRAPH_THEMES: Mapping[str, GraphColours] = {
    "light": GraphColours("#f8fafc", "#ffffff", INK, MUTED, EDGE_COLOR, "#ffffff"),
    "dark": GraphColours("#0f172a", "#1e293b", "#e5e7eb", "#9ca3af", "#94a3b8", "#0f172a"),
}

# Keeps text the same size as the cards it sits on, whatever the zoom.
_SCALE_TEXT = """
let width = 0;
try { width = plot.inner_width; } catch (unset) { return; }
const span = plot.x_range.end - plot.x_range.start;
if (!(span > 0) || !(width > 0)) { return; }
const k = width / span;
const units = source.data.units;
const size = new Array(units.length);
for (let i = 0; i < units.length; i++) { size[i] = (units[i] * k).toFixed(1) + "px"; }
source.data.size = size;
source.change.emit();
"""


# -------------------------------------------------------------------- layout


def dependency_graph(catalog: Catalog) -> nx.DiGraph:
    """Steps as nodes, an edge from each producer to each consumer of one of its outputs."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(catalog.steps))
    for name, producers in catalog.providers.items():
        for consumer in catalog.consumers.get(name, ()):
            graph.add_edges_from((producer, consumer) for producer in producers)
    return graph


def layers(catalog: Catalog) -> list[list[StepID]]:
    """Columns of steps, producers left of consumers, ordered to keep edges short.

    Topological generations of the condensation (so even a cyclic catalog lays
    out), then a down and an up barycenter sweep to reduce crossings.
    """
    graph = dependency_graph(catalog)
    condensed = nx.condensation(graph)
    columns = [
        sorted(step for node in generation for step in condensed.nodes[node]["members"])
        for generation in nx.topological_generations(condensed)
    ]
    _sweep(columns, graph.predecessors)
    _sweep(columns[::-1], graph.successors)
    return columns


def _sweep(columns: list[list[StepID]], neighbours: Callable[[StepID], Any]) -> None:
    position: dict[StepID, float] = {}
    for column in columns:
        for index, step in enumerate(column):
            linked = [position[n] for n in neighbours(step) if n in position]
            position[step] = sum(linked) / len(linked) if linked else index
        column.sort(key=lambda step: position[step])
        position.update({step: float(index) for index, step in enumerate(column)})


@dataclass(frozen=True, slots=True)
class Card:
    """Where one step's card sits: its top-left corner and each attribute row's y."""

    step: Step
    role: StepRole
    left: float
    top: float
    height: float
    rows: Mapping[str, float] = field(default_factory=dict)

    @property
    def right(self) -> float:
        return self.left + CARD_WIDTH

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.top - self.height <= y <= self.top


def card_rows(step: Step) -> list[str]:
    """Attribute names in card order: required, optional, const and meta inputs, outputs."""
    fixed = [*step.const_inputs, *step.meta_inputs]
    return [*step.required_inputs, *step.optional_inputs, *fixed, *step.outputs]


def card_height(step: Step) -> float:
    return HEADER + ROW * len(card_rows(step)) + FOOTER


def layout(catalog: Catalog) -> dict[StepID, Card]:
    """Every step's card, columns left to right, each column centred on y = 0."""
    cards: dict[StepID, Card] = {}
    for index, column in enumerate(layers(catalog)):
        heights = [card_height(catalog.steps[sid]) for sid in column]
        top = (sum(heights) + GAP_Y * (len(column) - 1)) / 2
        for sid, height in zip(column, heights, strict=True):
            step = catalog.steps[sid]
            first_row = top - HEADER - ROW / 2
            rows = {name: first_row - ROW * i for i, name in enumerate(card_rows(step))}
            left = index * (CARD_WIDTH + GAP_X)
            cards[sid] = Card(step, step_role(catalog, step), left, top, height, rows)
            top -= height + GAP_Y
    return cards


# --------------------------------------------------------------------- text


def clip(text: str, width: float, size: float, char: float = MONO_CHAR) -> str:
    """``text`` cut with an ellipsis to fit ``width`` data units at font ``size``."""
    fits = max(int(width / (size * char)), 2)
    return text if len(text) <= fits else text[: fits - 1] + "…"


def attribute_label(step: Step, name: str) -> str:
    """One card row: the role's mark, the name (and the service's, when mapped), the type."""
    spec = step.attributes[name]
    kind = spec.type.value + ("[]" if spec.for_each else "")
    shown = name + _mapped(spec)
    if spec.role is Role.OUTPUT:
        return f"{shown}: {kind} ▸"
    if spec.role is Role.CONST:
        return f"◆ {name}: {kind} = {spec.const_value}"
    if spec.role is Role.META:
        return f"◇ {name}: {spec.meta_key.value if spec.meta_key else kind}"
    mark = "●" if spec.role is Role.REQUIRED else "○"
    default = f" = {spec.default}" if spec.default is not None else ""
    return f"{mark} {shown}: {kind}{default}"


def _mapped(spec: AttributeSpec) -> str:
    """`` → email`` for an input the service calls ``email``, ``ƒ`` where a script turns it."""
    if spec.mapping is None:
        return ""
    arrow = "←" if spec.role is Role.OUTPUT else "→"
    turned = "ƒ" if spec.mapping.script is not None else ""
    return f" {arrow}{turned} {spec.mapping.name}" if spec.mapping.name else f" {arrow}{turned}"


def footer_text(step: Step) -> str:
    """The endpoint (method and path) of an HTTP step, else its script's first line."""
    if step.http is not None:
        url = urlsplit(step.http.endpoint)
        return f"{step.http.method.value} {url.path or '/'}"
    if step.script is not None:
        first = next((line for line in step.script.script.splitlines() if line.strip()), "")
        return f"{step.script.language.value}  {first.strip()}"
    return ""


def type_label(step: Step) -> str:
    """``sync``, ``async``, or the script's language."""
    return step.script.language.value if step.script is not None else step.type.value


# --------------------------------------------------------------------- bokeh


def _columns(keys: str) -> dict[str, list[Any]]:
    return {key: [] for key in keys.split()}


@dataclass(slots=True)
class _Drawing:
    """The data of every glyph for one catalog, before it goes into the sources."""

    cards: dict[str, list[Any]] = field(
        default_factory=lambda: _columns("id x y w h header_y health_x role type health")
    )
    texts: dict[str, list[Any]] = field(
        default_factory=lambda: _columns("step x y text units size tone font style align")
    )
    ports: dict[str, list[Any]] = field(default_factory=lambda: _columns("step x y hollow"))
    edges: dict[str, list[Any]] = field(
        default_factory=lambda: _columns("source target x0 y0 x1 y1 cx0 cy0 cx1 cy1 optional")
    )

    def text(self, step: StepID, x: float, y: float, text: str, units: float, **style: str) -> None:
        row = {
            "step": step,
            "x": x,
            "y": y,
            "text": text,
            "units": units,
            "size": f"{units * DEFAULT_PX_PER_UNIT:.1f}px",
            "tone": style.get("tone", "ink"),
            "font": style.get("font", "sans-serif"),
            "style": style.get("style", "normal"),
            "align": style.get("align", "left"),
        }
        for key, value in row.items():
            self.texts[key].append(value)


def draw(catalog: Catalog, cards: Mapping[StepID, Card]) -> _Drawing:
    drawing = _Drawing()
    for sid, card in cards.items():
        _draw_card(drawing, catalog, sid, card)
    for name, producers in catalog.providers.items():
        for consumer in catalog.consumers.get(name, ()):
            optional = cards[consumer].step.attributes[name].role is Role.OPTIONAL
            for producer in producers:
                _draw_edge(drawing, cards[producer], cards[consumer], name, optional)
    return drawing


def _draw_card(drawing: _Drawing, catalog: Catalog, sid: StepID, card: Card) -> None:
    step, cols = card.step, drawing.cards
    health = catalog.health.get(sid)
    for key, value in {
        "id": sid,
        "x": card.left + CARD_WIDTH / 2,
        "y": card.top - card.height / 2,
        "w": CARD_WIDTH,
        "h": card.height,
        "header_y": card.top - HEADER / 2,
        "health_x": card.right - 0.4,
        "role": card.role.value,
        "type": type_label(step),
        "health": (health.status if health else HealthStatus.UNKNOWN).value,
    }.items():
        cols[key].append(value)
    middle = card.top - HEADER / 2
    title = clip(
        f"{TYPE_ICONS[step.type]} {step.name or sid}", CARD_WIDTH - 1.0, TITLE_SIZE, SANS_CHAR
    )
    drawing.text(sid, card.left + 0.3, middle, title, TITLE_SIZE, style="bold")
    for name, y in card.rows.items():
        spec = step.attributes[name]
        label = clip(attribute_label(step, name), CARD_WIDTH - 0.8, ROW_SIZE)
        output = spec.role is Role.OUTPUT
        x = card.right - 0.35 if output else card.left + 0.35
        align = "right" if output else "left"
        drawing.text(sid, x, y, label, ROW_SIZE, font="monospace", align=align)
        for key, value in {"step": sid, "x": card.right if output else card.left, "y": y}.items():
            drawing.ports[key].append(value)
        drawing.ports["hollow"].append(spec.role is Role.OPTIONAL)
    footer = clip(footer_text(step), CARD_WIDTH - 0.7, FOOTER_SIZE)
    footer_y = card.top - card.height + FOOTER / 2
    drawing.text(
        sid, card.left + 0.35, footer_y, footer, FOOTER_SIZE, tone="muted", font="monospace"
    )


def _draw_edge(
    drawing: _Drawing, producer: Card, consumer: Card, name: str, optional: bool
) -> None:
    x0, y0 = producer.right, producer.rows[name]
    x1, y1 = consumer.left, consumer.rows[name]
    bend = max(1.5, (x1 - x0) * 0.45)
    row = {
        "source": producer.step.id,
        "target": consumer.step.id,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "cx0": x0 + bend,
        "cy0": y0,
        "cx1": x1 - bend,
        "cy1": y1,
        "optional": optional,
    }
    for key, value in row.items():
        drawing.edges[key].append(value)


@dataclass(frozen=True, slots=True)
class Focus:
    """What stands out: the steps (None: all), their statuses in a flow, the selected step."""

    steps: frozenset[StepID] | None = None
    statuses: Mapping[StepID, str] = field(default_factory=dict)
    selected: str = ""

    def shows(self, step_id: str) -> bool:
        return self.steps is None or step_id in self.steps


class StepGraph:
    """The Bokeh figure of the catalog; ``on_tap`` gets the clicked step id, or None."""

    def __init__(self, on_tap: Callable[[str | None], None]) -> None:
        self.on_tap = on_tap
        self.cards: dict[StepID, Card] = {}
        self.focus = Focus()
        self.colours = GRAPH_THEMES["light"]
        self.card_source = ColumnDataSource(self._card_style(_Drawing().cards), name="argyll-cards")
        self.text_source = ColumnDataSource(self._text_style(_Drawing().texts))
        self.port_source = ColumnDataSource(self._port_style(_Drawing().ports))
        empty_edges = {**_Drawing().edges, "alpha": [], "color": [], "width": []}
        self.required_source = ColumnDataSource(dict(empty_edges))
        self.optional_source = ColumnDataSource(dict(empty_edges))
        self.figure = self._figure()

    # ---------------------------------------------------------------- data

    def set_catalog(self, catalog: Catalog) -> None:
        """Lay the catalog out again and replace every glyph's data."""
        self.cards = layout(catalog)
        drawing = draw(catalog, self.cards)
        self.card_source.data = self._card_style(drawing.cards)
        self.text_source.data = self._text_style(drawing.texts)
        self.port_source.data = self._port_style(drawing.ports)
        required, optional = self._split_edges(drawing.edges)
        self.required_source.data = self._edge_style(required)
        self.optional_source.data = self._edge_style(optional)

    def set_focus(self, focus: Focus) -> None:
        """Recolour for a plan, a flow or a selection: patch only the columns that changed."""
        self.focus = focus
        _patch(self.card_source, self._card_style(self.card_source.data))
        _patch(self.text_source, {"alpha": self._alphas(self.text_source.data["step"])})
        _patch(self.port_source, {"alpha": self._alphas(self.port_source.data["step"])})
        for source in (self.required_source, self.optional_source):
            _patch(source, self._edge_style(source.data))

    def set_theme(self, theme: str) -> None:
        """Redraw in the colours of ``theme`` (a key of ``GRAPH_THEMES``)."""
        self.colours = colours = GRAPH_THEMES[theme]
        self.figure.background_fill_color = self.figure.border_fill_color = colours.background
        _patch(self.card_source, self._card_style(self.card_source.data))
        _patch(self.text_source, self._text_style(self.text_source.data))
        _patch(self.port_source, self._port_style(self.port_source.data))
        for source in (self.required_source, self.optional_source):
            _patch(source, self._edge_style(source.data))

    def preferred_height(self, width: int = 900, low: int = 380, high: int = 640) -> int:
        """The plot height that shows the whole graph at ``width`` pixels without empty bands."""
        if not self.cards:
            return low
        right = max(card.right for card in self.cards.values())
        top = max(card.top for card in self.cards.values())
        bottom = min(card.top - card.height for card in self.cards.values())
        return int(min(max(width * (top - bottom) / right * 1.1 + 40, low), high))

    def step_at(self, x: float, y: float) -> StepID | None:
        return next((sid for sid, card in self.cards.items() if card.contains(x, y)), None)

    # --------------------------------------------------------------- style

    def _alphas(self, steps: Any) -> list[float]:
        return [1.0 if self.focus.shows(sid) else FADED for sid in steps]

    def _card_style(self, cards: Mapping[str, Any]) -> dict[str, list[Any]]:
        focus, ids = self.focus, list(cards["id"])
        status = [focus.statuses.get(sid, "") for sid in ids]
        role_color = [ROLE_COLORS[StepRole(role)] for role in cards["role"]]
        return {
            **{key: list(values) for key, values in cards.items()},
            "status": status,
            "role_color": role_color,
            "fill": [STATUS_COLORS.get(s, self.colours.card) for s in status],
            "fill_alpha": [0.35 if s else 1.0 for s in status],
            "line": [
                self.colours.ink if sid == focus.selected else role_color[i]
                for i, sid in enumerate(ids)
            ],
            "ring": [self.colours.card] * len(ids),
            "line_width": [4.0 if sid == focus.selected else 2.0 for sid in ids],
            "alpha": self._alphas(ids),
            "health_color": [HEALTH_COLORS[HealthStatus(h)] for h in cards["health"]],
        }

    def _text_style(self, texts: Mapping[str, Any]) -> dict[str, list[Any]]:
        return {
            **{key: list(values) for key, values in texts.items()},
            "color": [getattr(self.colours, tone) for tone in texts["tone"]],
            "alpha": self._alphas(texts["step"]),
        }

    def _port_style(self, ports: Mapping[str, Any]) -> dict[str, list[Any]]:
        colours = self.colours
        return {
            **{key: list(values) for key, values in ports.items()},
            "fill": [colours.hollow if hollow else colours.edge for hollow in ports["hollow"]],
            "line": [colours.edge] * len(ports["hollow"]),
            "alpha": self._alphas(ports["step"]),
        }

    def _edge_style(self, edges: Mapping[str, Any]) -> dict[str, list[Any]]:
        focus = self.focus
        shown = [
            focus.shows(a) and focus.shows(b)
            for a, b in zip(edges["source"], edges["target"], strict=True)
        ]
        done = [focus.statuses.get(a) == "completed" for a in edges["source"]]
        return {
            **{key: list(values) for key, values in edges.items()},
            "alpha": [0.9 if s else FADED * 0.8 for s in shown],
            "color": [STATUS_COLORS["completed"] if d else self.colours.edge for d in done],
            "width": [2.5 if s and focus.steps is not None else 1.6 for s in shown],
        }

    @staticmethod
    def _split_edges(edges: Mapping[str, list[Any]]) -> tuple[dict, dict]:
        required: dict[str, list[Any]] = {key: [] for key in edges}
        optional: dict[str, list[Any]] = {key: [] for key in edges}
        for index, is_optional in enumerate(edges["optional"]):
            side = optional if is_optional else required
            for key, values in edges.items():
                side[key].append(values[index])
        return required, optional

    # -------------------------------------------------------------- figure

    def _figure(self) -> Any:
        wheel = WheelZoomTool()
        plot = figure(
            name="argyll-graph",
            x_range=DataRange1d(range_padding=0.04),
            y_range=DataRange1d(range_padding=0.06),
            match_aspect=True,
            sizing_mode="stretch_width",
            height=560,
            tools=["pan", wheel, "reset", "save"],
            active_scroll=wheel,
            toolbar_location="right",
            background_fill_color=self.colours.background,
            border_fill_color=self.colours.background,
            outline_line_color=None,
            min_border=8,
        )
        plot.axis.visible = False
        plot.grid.visible = False
        self._draw_edges(plot)
        self._draw_cards(plot)
        plot.add_tools(TapTool(renderers=[]))
        plot.on_event(Tap, self._tapped)
        scale = CustomJS(args={"plot": plot, "source": self.text_source}, code=_SCALE_TEXT)
        for target, prop in (
            (plot.x_range, "start"),
            (plot.x_range, "end"),
            (plot, "inner_width"),
            (self.text_source, "data"),
        ):
            target.js_on_change(prop, scale)
        return plot

    def _draw_edges(self, plot: Any) -> None:
        for source, dash in ((self.required_source, "solid"), (self.optional_source, "dashed")):
            plot.bezier(
                x0="x0",
                y0="y0",
                x1="x1",
                y1="y1",
                cx0="cx0",
                cy0="cy0",
                cx1="cx1",
                cy1="cy1",
                source=source,
                line_color="color",
                line_alpha="alpha",
                line_width="width",
                line_dash=dash,
            )

    def _draw_cards(self, plot: Any) -> None:
        cards = plot.rect(
            x="x",
            y="y",
            width="w",
            height="h",
            source=self.card_source,
            fill_color="fill",
            fill_alpha="fill_alpha",
            line_color="line",
            line_width="line_width",
            line_alpha="alpha",
            border_radius=8,
        )
        plot.rect(
            x="x",
            y="header_y",
            width="w",
            height=HEADER,
            source=self.card_source,
            fill_color="role_color",
            fill_alpha=0.18,
            line_color=None,
        )
        plot.circle(
            x="x",
            y="y",
            radius=PORT_RADIUS,
            source=self.port_source,
            fill_color="fill",
            line_color="line",
            fill_alpha="alpha",
            line_alpha="alpha",
        )
        plot.circle(
            x="health_x",
            y="header_y",
            radius=0.16,
            source=self.card_source,
            fill_color="health_color",
            line_color="ring",
            fill_alpha="alpha",
        )
        plot.text(
            x="x",
            y="y",
            text="text",
            source=self.text_source,
            text_font_size="size",
            text_color="color",
            text_alpha="alpha",
            text_font="font",
            text_font_style="style",
            text_align="align",
            text_baseline="middle",
        )
        plot.add_tools(
            HoverTool(
                renderers=[cards],
                tooltips=[
                    ("step", "@id"),
                    ("type", "@type"),
                    ("role", "@role"),
                    ("health", "@health"),
                    ("status", "@status"),
                ],
            )
        )

    def _tapped(self, event: Tap) -> None:
        if event.x is None or event.y is None:
            return
        self.on_tap(self.step_at(event.x, event.y))


def _patch(source: ColumnDataSource, columns: Mapping[str, list[Any]]) -> None:
    """Send only the columns whose values differ; a whole column goes as one slice patch."""
    changes = {
        key: [(slice(0, len(values)), values)]
        for key, values in columns.items()
        if list(source.data.get(key, [])) != list(values) and len(values)
    }
    if changes:
        source.patch(changes)
