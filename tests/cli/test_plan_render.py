"""``argyll plan`` draws what it left out and each child plan, nested by step."""

from rich.console import Console

from argyll.cli import render
from argyll.planner import plan
from argyll.testing import catalog_of, script_step


def drawn(data) -> str:
    console = Console(width=120, record=True)
    for table in render.plan(data):
        console.print(table)
    return console.export_text()


def test_excluded_steps_and_child_plans_are_drawn():
    flow = {
        "id": "sub",
        "type": "flow",
        "flow": {"goals": ["g"]},
        "attributes": {"y": {"role": "output"}},
    }
    catalog = catalog_of(
        script_step("stuck", "{}", requires=["never"], outputs=["x"]),
        script_step("fine", "{}", outputs=["x"]),
        script_step("g", "{}", requires=["x"], outputs=["y"]),
        flow,
        {**flow, "id": "outer", "flow": {"goals": ["sub"]}},
    )
    text = drawn(plan(catalog, ["outer"], {}).to_dict())
    assert "child plan of outer/sub" in text
    assert "REASON" in text[text.index("child plan of outer/sub") :]
    row = next(line for line in text.splitlines() if "stuck" in line)
    assert "missing" in row and "never" in row
    assert text.index("child plan of outer ") < text.index("child plan of outer/sub")
