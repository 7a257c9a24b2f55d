"""The planner over the full step model: sub-flow child plans, provider choice, excluded."""

from collections.abc import Mapping
from dataclasses import replace

import pytest
from test_decide import Flow

from argyll.catalog import on_register, on_update
from argyll.decide import check_init
from argyll.errors import MissingInputsError, ValidationError
from argyll.explain import describe, explain
from argyll.model import parse_step
from argyll.planner import plan
from argyll.testing import catalog_of, script_step


def step(sid, requires=(), outputs=(), optional=None, collect=None):
    definition = script_step(sid, "{}", requires=requires, outputs=outputs, optional=optional)
    for name, mode in (collect or {}).items():
        spec = definition["attributes"][name]
        spec[spec["role"]] = {"collect": mode}
    return definition


def flow(sid, goals, requires=(), outputs=(), inner=None, optional=()):
    """A sub-flow step; ``inner`` maps attribute names to the child's names."""
    inner = inner or {}
    attributes = {}
    for role, names in (("required", requires), ("optional", optional), ("output", outputs)):
        for name in names:
            attributes[name] = {"role": role}
            if name in inner:
                attributes[name][role] = {"mapping": {"name": inner[name]}}
    return {"id": sid, "type": "flow", "flow": {"goals": list(goals)}, "attributes": attributes}


# ----------------------------------------------------------------- sub-flows


def test_a_flow_step_carries_its_child_plan():
    catalog = catalog_of(
        step("double", ["x"], ["y"]), flow("sub", ["double"], requires=["x"], outputs=["y"])
    )
    result = plan(catalog, ["sub"], {"x": 1})
    assert set(result.steps) == {"sub"}
    child = result.children["sub"]
    assert child.goals == ("double",)
    assert set(child.steps) == {"double"}
    assert child.required == ()
    assert result.required == ()


def test_child_plan_follows_providers_inside_the_child_only():
    catalog = catalog_of(
        step("make", ["x"], ["m"]),
        step("use", ["m"], ["inner_y"]),
        flow("sub", ["use"], requires=["x"], outputs=["y"], inner={"y": "inner_y"}),
        step("after", ["y"], ["z"]),
    )
    result = plan(catalog, ["after"], {"x": 1})
    assert set(result.steps) == {"sub", "after"}
    assert set(result.children["sub"].steps) == {"make", "use"}


def test_inputs_reach_the_child_under_their_inner_names():
    catalog = catalog_of(
        step("price", ["qty", "code"], ["cost"]),
        flow(
            "sub",
            ["price"],
            requires=["amount"],
            optional=["coupon"],
            outputs=["total"],
            inner={"amount": "qty", "coupon": "code", "total": "cost"},
        ),
    )
    result = plan(catalog, ["sub"], {"amount": 3})
    assert result.required == ()
    assert result.children["sub"].required == ()


def test_a_child_requirement_the_step_does_not_map_in_is_the_parents():
    catalog = catalog_of(
        step("price", ["qty", "rate"], ["cost"]),
        flow("sub", ["price"], requires=["qty"], outputs=["cost"]),
    )
    result = plan(catalog, ["sub"], {"qty": 3})
    assert result.children["sub"].required == ("rate",)
    assert result.required == ("rate",)
    with pytest.raises(MissingInputsError) as caught:
        check_init(result, {"qty": 3})
    assert caught.value.inputs == ["rate"]


def test_child_requirements_come_up_through_every_level():
    catalog = catalog_of(
        step("leaf", ["a", "deep"], ["b"]),
        flow("inner", ["leaf"], requires=["a"], outputs=["b"]),
        flow("middle", ["inner"], requires=["a"], outputs=["b"]),
        flow("outer", ["middle"], requires=["a"], outputs=["b"]),
    )
    result = plan(catalog, ["outer"], {"a": 1})
    assert result.required == ("deep",)
    middle = result.children["outer"]
    inner = middle.children["middle"]
    assert set(inner.children["inner"].steps) == {"leaf"}
    assert middle.required == inner.required == ("deep",)
    data = result.to_dict()
    assert data["children"]["outer"]["children"]["middle"]["children"]["inner"]["goals"] == ["leaf"]


def test_an_output_the_child_cannot_produce_refuses_the_plan():
    catalog = catalog_of(
        step("price", ["qty"], ["cost"]),
        flow("sub", ["price"], requires=["qty"], outputs=["total"], inner={"total": "tax"}),
    )
    with pytest.raises(ValidationError) as caught:
        plan(catalog, ["sub"], {"qty": 1})
    assert caught.value.problems == [
        ("steps.sub.attributes.total", 'the child flow (goals price) produces no "tax"')
    ]


def test_an_input_mapped_in_counts_as_produced_by_the_child():
    catalog = catalog_of(
        step("noop", ["x"]),
        flow("echo", ["noop"], requires=["x"], outputs=["x2"], inner={"x2": "x"}),
    )
    assert plan(catalog, ["echo"], {"x": 1}).required == ()


def test_a_flow_step_whose_child_lacks_inputs_gives_way_to_another_provider():
    catalog = catalog_of(
        step("price", ["qty", "rate"], ["net"]),
        flow("via-flow", ["price"], requires=["qty"], outputs=["cost"], inner={"cost": "net"}),
        step("direct", ["qty"], ["cost"]),
        step("bill", ["cost"]),
    )
    result = plan(catalog, ["bill"], {"qty": 2})
    assert set(result.steps) == {"direct", "bill"}
    assert result.excluded.missing == {"via-flow": ("rate",)}
    assert result.children == {}
    assert result.required == ()


def test_a_composition_reached_through_providers_is_refused_when_planned():
    catalog = catalog_of(
        step("g", ["x"], ["out"]),
        flow("outer", ["g"], outputs=["out"]),
        flow("producer", ["outer"], outputs=["x"], inner={"x": "out"}),
    )
    with pytest.raises(ValidationError) as caught:
        plan(catalog, ["outer"], {})
    assert caught.value.problems == [
        ("steps.outer.flow", "recursive composition: flow outer -> flow producer -> outer")
    ]


# ------------------------------------------------------------ provider choice


def test_a_provider_that_cannot_run_is_left_out_when_another_can():
    catalog = catalog_of(
        step("stuck", ["never"], ["x"]), step("fine", outputs=["x"]), step("g", ["x"])
    )
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"fine", "g"}
    assert result.excluded.missing == {"stuck": ("never",)}
    assert result.attributes["x"].providers == ("fine",)
    assert result.required == ()


def test_when_no_provider_can_run_every_one_is_planned_and_their_needs_required():
    catalog = catalog_of(step("p1", ["v"], ["x"]), step("p2", ["w"], ["x"]), step("g", ["x"]))
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"p1", "p2", "g"}
    assert result.required == ("v", "w")
    assert not result.excluded


def test_runnability_looks_through_chains():
    catalog = catalog_of(
        step("root", ["never"], ["a"]),
        step("mid", ["a"], ["x"]),
        step("alt", ["given"], ["x"]),
        step("g", ["x"]),
    )
    result = plan(catalog, ["g"], {"given": 1})
    assert set(result.steps) == {"alt", "g"}
    assert result.excluded.missing == {"mid": ("a",)}


def test_an_optional_input_never_pulls_in_a_provider_that_cannot_run():
    catalog = catalog_of(step("stuck", ["never"], ["o"]), step("g", optional={"o": "1"}))
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"g"}
    assert result.required == ()
    assert result.excluded.missing == {"stuck": ("never",)}


def test_collect_all_plans_every_provider_or_reports_what_they_lack():
    catalog = catalog_of(
        step("p1", outputs=["x"]),
        step("p2", ["w"], ["x"]),
        step("g", ["x"], collect={"x": "all"}),
    )
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"p1", "p2", "g"}
    assert result.required == ("w",)
    assert set(plan(catalog, ["g"], {"w": 1}).steps) == {"p1", "p2", "g"}


def test_collect_none_needs_no_value_and_keeps_its_providers():
    catalog = catalog_of(step("p", outputs=["x"]), step("g", ["x"], collect={"x": "none"}))
    assert set(plan(catalog, ["g"], {}).steps) == {"p", "g"}
    alone = catalog_of(step("g", ["x"], collect={"x": "none"}))
    assert plan(alone, ["g"], {}).required == ()


def test_an_init_value_is_one_candidate_for_collect_modes_other_than_first():
    catalog = catalog_of(step("p", outputs=["x"]), step("g", ["x"], collect={"x": "last"}))
    assert set(plan(catalog, ["g"], {"x": 1}).steps) == {"p", "g"}


def test_const_and_meta_inputs_are_not_planned():
    definition = step("g")
    definition["attributes"] |= {
        "c": {"role": "const", "const": {"value": "1"}},
        "f": {"role": "meta", "meta": {"key": "flow_id"}},
    }
    catalog = catalog_of(step("pc", outputs=["c"]), step("pf", outputs=["f"]), definition)
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"g"}
    assert not result.excluded


class Recording(Mapping):
    """A catalog's steps that remember which ones were looked at."""

    def __init__(self, steps):
        self.steps, self.seen = steps, set()

    def __getitem__(self, key):
        self.seen.add(key)
        return self.steps[key]

    def __iter__(self):
        raise AssertionError("the planner must not list the catalog")

    def __len__(self):
        raise AssertionError("the planner must not count the catalog")

    def __contains__(self, key):
        return key in self.steps


def test_planning_looks_only_at_what_the_goals_reach():
    unrelated = [step(f"u{i}", [f"q{i}"], [f"r{i}"]) for i in range(50)]
    catalog = catalog_of(
        *unrelated,
        step("stuck", ["never"], ["total"]),
        step("price", ["qty"], ["net"]),
        flow("sub", ["price"], requires=["qty"], outputs=["total"], inner={"total": "net"}),
        step("bill", ["total"]),
    )
    steps = Recording(catalog.steps)
    plan(replace(catalog, steps=steps), ["bill"], {"qty": 1})
    assert steps.seen == {"bill", "sub", "price", "stuck"}


# ------------------------------------------------------------------- excluded


def test_a_provider_whose_outputs_init_holds_is_satisfied():
    catalog = catalog_of(
        step("a", outputs=["x", "x2"]), step("b", ["x"], ["y"]), step("c", ["y", "x2"])
    )
    result = plan(catalog, ["c"], {"x": 1, "x2": 2})
    assert set(result.steps) == {"b", "c"}
    assert result.excluded.satisfied == {"a": ("x", "x2")}
    assert result.excluded.to_dict() == {"satisfied": {"a": ["x", "x2"]}}


def test_a_provider_init_holds_only_part_of_is_not_listed():
    catalog = catalog_of(step("a", outputs=["x", "other"]), step("g", ["x"]))
    result = plan(catalog, ["g"], {"x": 1})
    assert set(result.steps) == {"g"}
    assert not result.excluded


def test_a_provider_with_an_init_value_for_a_collect_none_input_is_blocked():
    catalog = catalog_of(
        step("quiet", ["flag"], ["x"], collect={"flag": "none"}),
        step("loud", ["flag"], ["x"]),
        step("g", ["x"]),
    )
    result = plan(catalog, ["g"], {"flag": True})
    assert set(result.steps) == {"loud", "g"}
    assert result.excluded.blocked == {"quiet": ("flag",)}
    assert plan(catalog, ["g"], {}).excluded.missing == {"loud": ("flag",)}


def test_a_blocked_provider_is_not_planned_even_when_nothing_else_can_run():
    catalog = catalog_of(step("quiet", ["flag"], ["x"], collect={"flag": "none"}), step("g", ["x"]))
    result = plan(catalog, ["g"], {"flag": True})
    assert set(result.steps) == {"g"}
    assert result.required == ("x",)
    assert result.excluded.blocked == {"quiet": ("flag",)}


def test_only_steps_reachable_from_the_goals_are_excluded():
    catalog = catalog_of(
        step("stuck", ["never"], ["x"]),
        step("fine", outputs=["x"]),
        step("g", ["x"]),
        step("elsewhere", ["never"], ["q"]),
    )
    assert set(plan(catalog, ["g"], {}).excluded.missing) == {"stuck"}


def test_plan_json_nests_children_and_excluded():
    catalog = catalog_of(
        step("stuck", ["never"], ["x"]),
        step("fine", outputs=["x"]),
        step("g", ["x"], ["y"]),
        flow("sub", ["g"], outputs=["y"]),
    )
    data = plan(catalog, ["sub"], {}).to_dict()
    assert "excluded" not in data
    child = data["children"]["sub"]
    assert child["excluded"] == {"missing": {"stuck": ["never"]}}
    assert set(child["steps"]) == {"fine", "g"}


def test_explain_says_why_a_provider_was_passed_over():
    steps = (
        step("stuck", ["never"], ["x"]),
        step("quiet", ["flag"], ["x"], collect={"flag": "none"}),
        step("fine", outputs=["x"]),
        step("g", ["x", "flag"]),
    )
    flow = Flow(*steps, goals=["g"], init={"flag": True})
    answer = explain(flow.state, flow.log, catalog_of(*steps))
    left_out = {sid: reason.to_dict() for sid, reason in answer.not_in_plan.items()}
    assert left_out == {
        "stuck": {"reason": "inputs_missing", "detail": {"attributes": ["x"], "inputs": ["never"]}},
        "quiet": {"reason": "blocked_by_init", "detail": {"attributes": ["x"], "inputs": ["flag"]}},
    }
    assert describe("stuck", left_out["stuck"]) == (
        "left out: it cannot get never, and another provider can run"
    )


# ----------------------------------------------------------- composition rule


def register(catalog, definition):
    return on_register(catalog, parse_step(definition))


def test_a_flow_step_naming_itself_is_refused():
    with pytest.raises(ValidationError) as caught:
        register(catalog_of(), flow("loop", ["loop"]))
    assert caught.value.problems == [("flow.goals", "recursive composition: flow loop -> loop")]


def test_a_composition_cycle_is_refused_naming_it():
    catalog = catalog_of(step("leaf"), flow("a", ["b"]), flow("c", ["a", "leaf"]))
    with pytest.raises(ValidationError) as caught:
        register(catalog, flow("b", ["leaf", "c"]))
    assert caught.value.problems == [
        ("flow.goals", "recursive composition: flow b -> flow c -> flow a -> b")
    ]


def test_an_update_that_closes_a_composition_cycle_is_refused():
    catalog = catalog_of(step("a"), flow("b", ["a"]))
    with pytest.raises(ValidationError) as caught:
        on_update(catalog, parse_step(flow("a", ["b"])))
    assert caught.value.problems == [("flow.goals", "recursive composition: flow a -> flow b -> a")]


def test_nested_compositions_without_a_cycle_register():
    catalog = catalog_of(step("leaf"), flow("a", ["leaf"]), flow("b", ["a", "leaf"]))
    assert register(catalog, flow("c", ["b", "a"]))
