"""The lazy planner of docs/concepts.md."""

import pytest

from argyll.errors import UnknownGoalsError, ValidationError
from argyll.planner import PlanCache, plan
from argyll.testing import catalog_of, script_step


def step(sid, requires=(), outputs=(), optional=None):
    return script_step(sid, "{}", requires=requires, outputs=outputs, optional=optional)


def test_chain_pulls_in_every_provider():
    catalog = catalog_of(step("a", outputs=["x"]), step("b", ["x"], ["y"]), step("c", ["y"]))
    result = plan(catalog, ["c"], {})
    assert set(result.steps) == {"a", "b", "c"}
    assert result.goals == ("c",)
    assert result.required == ()
    assert result.attributes["x"].providers == ("a",)
    assert result.attributes["x"].consumers == ("b",)


def test_goal_alone_needs_nothing_downstream():
    catalog = catalog_of(step("a", outputs=["x"]), step("b", ["x"], ["y"]), step("c", ["y"]))
    assert set(plan(catalog, ["a"], {}).steps) == {"a"}


def test_diamond_includes_each_step_once():
    catalog = catalog_of(
        step("top", outputs=["t"]),
        step("left", ["t"], ["l"]),
        step("right", ["t"], ["r"]),
        step("bottom", ["l", "r"], ["b"]),
    )
    result = plan(catalog, ["bottom"], {})
    assert set(result.steps) == {"top", "left", "right", "bottom"}
    assert set(result.attributes["t"].consumers) == {"left", "right"}


def test_multiple_goals_share_providers():
    catalog = catalog_of(
        step("a", outputs=["x"]), step("g1", ["x"], ["o1"]), step("g2", ["x"], ["o2"])
    )
    result = plan(catalog, ["g1", "g2"], {})
    assert set(result.steps) == {"a", "g1", "g2"}
    assert result.goals == ("g1", "g2")


def test_every_provider_of_a_needed_attribute_is_planned():
    catalog = catalog_of(step("p1", outputs=["x"]), step("p2", outputs=["x"]), step("g", ["x"]))
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"p1", "p2", "g"}
    assert set(result.attributes["x"].providers) == {"p1", "p2"}


def test_init_supplying_a_middle_attribute_leaves_its_provider_out():
    catalog = catalog_of(step("a", outputs=["x"]), step("b", ["x"], ["y"]), step("c", ["y"]))
    result = plan(catalog, ["c"], {"y": 1})
    assert set(result.steps) == {"c"}


def test_optional_input_with_provider_pulls_it_in():
    catalog = catalog_of(step("p", outputs=["o"]), step("g", optional={"o": None}))
    assert set(plan(catalog, ["g"], {}).steps) == {"p", "g"}


def test_optional_input_without_provider_is_not_required():
    catalog = catalog_of(step("g", optional={"o": "1"}))
    result = plan(catalog, ["g"], {})
    assert set(result.steps) == {"g"}
    assert result.required == ()


def test_missing_required_inputs_are_listed():
    catalog = catalog_of(step("b", ["x", "w"], ["y"]), step("c", ["y", "z"]))
    assert plan(catalog, ["c"], {"w": 0}).required == ("x", "z")


def test_unknown_goal_is_refused_naming_it():
    catalog = catalog_of(step("a"))
    with pytest.raises(UnknownGoalsError) as caught:
        plan(catalog, ["a", "nope"], {})
    assert caught.value.goals == ["nope"]


def test_no_goals_is_refused():
    with pytest.raises(ValidationError):
        plan(catalog_of(step("a")), [], {})


def test_unrelated_steps_are_never_visited():
    catalog = catalog_of(step("a", outputs=["x"]), step("g", ["x"]), step("other", ["q"], ["r"]))
    result = plan(catalog, ["g"], {})
    assert "other" not in result.steps
    assert "q" not in result.attributes


def test_plan_to_dict_has_the_spec_shape():
    catalog = catalog_of(step("a", outputs=["x"]), step("g", ["x"]))
    data = plan(catalog, ["g"], {}).to_dict()
    assert set(data) == {"goals", "required", "steps", "attributes"}
    assert data["attributes"]["x"] == {"providers": ["a"], "consumers": ["g"]}
    assert data["steps"]["a"]["id"] == "a"


def test_the_plan_cache_shares_a_plan_between_starts_with_the_same_init_names():
    cache = PlanCache()
    catalog = catalog_of(step("a", outputs=["x"]), step("b", ["x"], ["y"]))
    first = cache.plan(catalog, ["b"], {"z": 1})
    assert cache.plan(catalog, ["b"], {"z": 2}) is first
    assert first == plan(catalog, ["b"], {"z": 1})
    with_x = cache.plan(catalog, ["b"], {"x": 1})
    assert set(with_x.steps) == {"b"} and set(first.steps) == {"a", "b"}


def test_the_plan_cache_plans_again_on_a_new_catalog_and_never_keeps_a_refusal():
    cache = PlanCache(size=2)
    old = catalog_of(step("a", outputs=["x"]), step("b", ["x"], ["y"]))
    new = catalog_of(step("b", ["x"], ["y"]))
    assert set(cache.plan(old, ["b"], {}).steps) == {"a", "b"}
    assert set(cache.plan(new, ["b"], {}).steps) == {"b"}
    with pytest.raises(UnknownGoalsError):
        cache.plan(new, ["nope"], {})
    for name in ("p", "q", "r"):
        assert cache.plan(new, ["b"], {name: 1}).goals == ("b",)
