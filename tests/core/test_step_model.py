"""Parsing and validating step definitions (SPEC §1)."""

import pytest

from argyll.errors import ValidationError
from argyll.model import AttrType, HttpMethod, Role, StepType, parse_step
from argyll.testing import script_step

HTTP = {"id": "h", "type": "sync", "http": {"endpoint": "http://127.0.0.1:9/x"}}


def fields_of(definition):
    with pytest.raises(ValidationError) as caught:
        parse_step(definition)
    return {field for field, _ in caught.value.problems}


def test_full_definition_round_trips():
    definition = {
        "id": "price-calc",
        "name": "Price Calculator",
        "type": "script",
        "version": "1.0.0",
        "labels": {"team": "billing"},
        "attributes": {
            "quantity": {"role": "required", "type": "number"},
            "coupon": {"role": "optional", "type": "string", "default": '"NONE"'},
            "items": {"role": "required", "type": "array", "for_each": True},
            "total": {"role": "output", "type": "number"},
        },
        "script": {"language": "ale", "script": "{:total (* quantity 2)}"},
        "predicate": {"language": "lua", "script": "return quantity > 0"},
        "work_config": {
            "max_retries": 3,
            "init_backoff": 200,
            "max_backoff": 5000,
            "backoff_type": "linear",
            "parallelism": 4,
        },
    }
    step = parse_step(definition)
    assert step.attributes["coupon"].default_value() == "NONE"
    assert step.for_each_inputs == ["items"]
    assert parse_step(step.to_dict()) == step
    assert step.to_dict()["attributes"]["items"] == {
        "role": "required",
        "type": "array",
        "for_each": True,
    }


def test_defaults_are_filled_in():
    step = parse_step(HTTP)
    assert step.name == "h"
    assert step.http is not None
    assert step.http.method is HttpMethod.POST
    assert step.http.timeout == 30000
    assert step.work_config.parallelism == 1


def test_nested_attribute_form_means_the_same():
    nested = script_step("s", "1")
    nested["attributes"] = {
        "a": {
            "role": "optional",
            "type": "array",
            "optional": {"default": "[1]", "for_each": True},
        },
        "b": {"role": "required", "required": {"for_each": True}},
    }
    step = parse_step(nested)
    assert step.attributes["a"].default == "[1]"
    assert step.attributes["a"].for_each
    assert step.attributes["b"].role is Role.REQUIRED
    assert step.attributes["b"].for_each
    assert step.attributes["b"].type is AttrType.ANY


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "bad id!"}, "id"),
        ({"id": ""}, "id"),
        ({"type": "batch"}, "type"),
        ({"http": None}, "http"),
        ({"script": {"language": "ale", "script": "1"}}, "script"),
        ({"http": {"endpoint": "ftp://x"}}, "http.endpoint"),
        ({"http": {"endpoint": "http://x", "method": "PATCH"}}, "http.method"),
        ({"http": {"endpoint": "http://x", "timeout": "5s"}}, "http.timeout"),
        ({"http": {"endpoint": "http://x", "timeout": 0}}, "http.timeout"),
        ({"labels": {"team": 3}}, "labels.team"),
        ({"labels": []}, "labels"),
        ({"work_config": {"backoff_type": "random"}}, "work_config.backoff_type"),
        ({"work_config": {"parallelism": 0}}, "work_config.parallelism"),
        ({"work_config": {"max_retries": -2}}, "work_config.max_retries"),
        ({"work_config": {"init_backoff": 500, "max_backoff": 100}}, "work_config.max_backoff"),
        ({"attributes": {"a": {"role": "input"}}}, "attributes.a.role"),
        ({"attributes": {"a": {"role": "required", "type": "int"}}}, "attributes.a.type"),
        ({"attributes": {"a": "required"}}, "attributes.a"),
        ({"attributes": {"a b": {"role": "required"}}}, "attributes.a b"),
        (
            {"attributes": {"a": {"role": "required", "default": "1"}}},
            "attributes.a.default",
        ),
        (
            {"attributes": {"a": {"role": "output", "default": "1"}}},
            "attributes.a.default",
        ),
        (
            {"attributes": {"a": {"role": "optional", "type": "number", "default": '"x"'}}},
            "attributes.a.default",
        ),
        (
            {"attributes": {"a": {"role": "optional", "default": "not json"}}},
            "attributes.a.default",
        ),
        (
            {"attributes": {"a": {"role": "optional", "default": 1}}},
            "attributes.a.default",
        ),
        (
            {"attributes": {"a": {"role": "required", "type": "string", "for_each": True}}},
            "attributes.a.for_each",
        ),
        (
            {"attributes": {"a": {"role": "output", "for_each": True}}},
            "attributes.a.for_each",
        ),
    ],
)
def test_each_rule_names_its_field(change, field):
    assert field in fields_of({**HTTP, **change})


def test_script_steps_refuse_http_and_need_a_script():
    assert {"script", "http"} <= fields_of({"id": "s", "type": "script", "http": HTTP["http"]})


def test_empty_script_and_unknown_language_are_refused():
    definition = script_step("s", "  ")
    definition["predicate"] = {"language": "python", "script": "True"}
    assert {"script.script", "predicate.language"} <= fields_of(definition)


def test_all_problems_are_reported_at_once():
    problems = fields_of({"id": "x y", "type": "nope", "labels": {"a": 1}})
    assert {"id", "type", "labels.a"} <= problems


def test_non_object_body_is_refused():
    assert fields_of(["not", "a", "step"]) == {"body"}


def test_path_id_must_match_body_id():
    with pytest.raises(ValidationError):
        parse_step(HTTP, step_id="other")
    assert parse_step({k: v for k, v in HTTP.items() if k != "id"}, step_id="h").id == "h"


def test_method_is_case_insensitive_and_type_is_sync():
    step = parse_step({**HTTP, "http": {"endpoint": "http://x/{id}", "method": "get"}})
    assert step.http is not None
    assert step.http.method is HttpMethod.GET
    assert step.type is StepType.SYNC
