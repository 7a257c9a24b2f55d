"""``evolve``: the appliers' copy of a frozen value with some fields changed."""

import dataclasses
from datetime import UTC, datetime

import pytest

from argyll.model import AttributeSpec, Execution, FlowState, Plan, Role, Step, StepType, WorkItem
from argyll.model.evolve import evolve

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "changes"),
    [
        (FlowState(id="f", plan=Plan((), (), {}, {}), init={}, created_at=NOW), {"version": 3}),
        (Execution(), {"error": "boom", "reason": "why"}),
        (WorkItem({"x": 1}), {"retry_count": 2, "owner": "me"}),
        (Step("s", StepType.SCRIPT), {}),
    ],
)
def test_evolve_gives_what_replace_gives_and_leaves_the_original_alone(value, changes):
    before = dataclasses.replace(value)
    copy = evolve(value, **changes)
    assert copy == dataclasses.replace(value, **changes)
    assert copy is not value and value == before


def test_an_unknown_field_is_refused_by_name():
    with pytest.raises(TypeError, match="WorkItem has no field 'colour'"):
        evolve(WorkItem({}), colour="red")


def test_a_cache_of_the_old_value_does_not_carry_over():
    output = AttributeSpec(Role.OUTPUT)
    step = Step("s", StepType.SCRIPT, attributes={"x": output})
    assert step.outputs == ("x",)
    renamed = evolve(step, attributes={"y": output})
    assert renamed.outputs == ("y",) and step.outputs == ("x",)


def test_a_class_with_post_init_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            assert self.n >= 0

    with pytest.raises(TypeError, match="without __post_init__"):
        evolve(Checked(1), n=2)
