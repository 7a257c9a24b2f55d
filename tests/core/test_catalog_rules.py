"""The catalog rules of docs/steps.md: one type per attribute, no cycles, conflicts."""

import pytest

from argyll.catalog import on_register, on_unregister, on_update
from argyll.errors import ConflictError, NotFoundError, ValidationError
from argyll.events import StepRegistered, StepUnregistered, StepUpdated
from argyll.model import parse_step
from argyll.testing import catalog_of, script_step


def step(sid, requires=(), outputs=(), types=None, optional=None):
    return parse_step(
        script_step(sid, "{}", requires=requires, outputs=outputs, types=types, optional=optional)
    )


def test_new_step_is_registered():
    (event,) = on_register(catalog_of(), step("a", outputs=["x"]))
    assert isinstance(event, StepRegistered)
    assert event.step.id == "a"


def test_identical_registration_decides_nothing():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"]))
    assert on_register(catalog, step("a", outputs=["x"])) == []


def test_different_definition_under_same_id_is_a_conflict():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"]))
    with pytest.raises(ConflictError):
        on_register(catalog, step("a", outputs=["y"]))


def test_attribute_type_clash_names_the_other_step():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"], types={"x": "number"}))
    with pytest.raises(ValidationError) as caught:
        on_register(catalog, step("b", requires=["x"], types={"x": "string"}))
    ((field, reason),) = caught.value.problems
    assert field == "attributes.x.type"
    assert "'a'" in reason


def test_any_matches_every_type():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"], types={"x": "number"}))
    assert on_register(catalog, step("b", requires=["x"]))
    assert on_register(catalog, step("c", requires=["x"], types={"x": "number"}))


def test_two_step_cycle_is_refused_naming_it():
    catalog = catalog_of(script_step("a", "{}", requires=["y"], outputs=["x"]))
    with pytest.raises(ValidationError) as caught:
        on_register(catalog, step("b", requires=["x"], outputs=["y"]))
    ((field, reason),) = caught.value.problems
    assert field == "attributes"
    assert "b -[y]-> a -[x]-> b" in reason


def test_longer_cycle_through_optional_input_is_refused():
    catalog = catalog_of(
        script_step("a", "{}", requires=["z"], outputs=["x"]),
        script_step("b", "{}", requires=["x"], outputs=["y"]),
    )
    with pytest.raises(ValidationError):
        on_register(catalog, step("c", optional={"y": None}, outputs=["z"]))


def test_update_that_closes_a_cycle_is_refused():
    catalog = catalog_of(
        script_step("a", "{}", outputs=["x"]), script_step("b", "{}", requires=["x"], outputs=["y"])
    )
    with pytest.raises(ValidationError):
        on_update(catalog, step("a", requires=["y"], outputs=["x"]))


def test_update_may_change_the_only_use_of_a_type():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"], types={"x": "number"}))
    (event,) = on_update(catalog, step("a", outputs=["x"], types={"x": "string"}))
    assert isinstance(event, StepUpdated)


def test_update_unknown_and_identical():
    catalog = catalog_of(script_step("a", "{}"))
    with pytest.raises(NotFoundError):
        on_update(catalog, step("nope"))
    assert on_update(catalog, step("a")) == []


def test_unregister():
    catalog = catalog_of(script_step("a", "{}", outputs=["x"]))
    assert on_unregister(catalog, "a") == [StepUnregistered("a")]
    with pytest.raises(NotFoundError):
        on_unregister(catalog, "b")


def test_catalog_indexes_follow_registrations():
    catalog = catalog_of(
        script_step("a", "{}", outputs=["x"]), script_step("b", "{}", requires=["x"])
    )
    assert catalog.providers["x"] == ("a",)
    assert catalog.consumers["x"] == ("b",)
    assert catalog.version == 2
