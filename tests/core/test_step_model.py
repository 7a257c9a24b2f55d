"""Parsing and validating step definitions (docs/steps.md): the schema, the rules, round trips."""

import dataclasses
import json

import pytest

from argyll.errors import ValidationError
from argyll.model import (
    AttributeSpec,
    AttrType,
    HttpConfig,
    HttpMethod,
    Role,
    ScriptConfig,
    Step,
    StepType,
    WorkConfig,
    parse_step,
    schema,
)
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
    assert step.for_each_inputs == ("items",)
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
        ({"work_config": {"concurrency": 0}}, "work_config.concurrency"),
        ({"work_config": {"concurrency": "2"}}, "work_config.concurrency"),
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


# ------------------------------------------------- one schema, round trips

FULL_HTTP = {
    "id": "price-calc",
    "name": "Price Calculator",
    "type": "async",
    "version": "1.0.0",
    "labels": {"team": "billing"},
    "attributes": {
        "quantity": {
            "role": "required",
            "type": "number",
            "required": {
                "collect": "all",
                "match": {"language": "jpath", "script": "$[?@ > 0]"},
                "mapping": {"name": "qty", "script": {"language": "ale", "script": "value"}},
            },
        },
        "items": {"role": "required", "type": "array", "required": {"for_each": True}},
        "coupon": {
            "role": "optional",
            "type": "string",
            "optional": {
                "default": '"NONE"',
                "collect": "last",
                "deadline": 2000,
                "mapping": {"name": "code", "script": {"language": "lua", "script": "value"}},
            },
        },
        "currency": {"role": "const", "type": "string", "const": {"value": '"EUR"'}},
        "flow": {"role": "meta", "type": "string", "meta": {"key": "flow_id"}},
        "sizes": {
            "role": "optional",
            "type": "any",
            "optional": {"default": "[1]", "for_each": True},
        },
        "total": {
            "role": "output",
            "type": "number",
            "output": {
                "mapping": {"name": "price", "script": {"language": "jpath", "script": "$.sum"}}
            },
        },
    },
    "http": {
        "endpoint": "http://127.0.0.1:9/price/{quantity}",
        "method": "PUT",
        "health_check": "http://127.0.0.1:9/health",
        "timeout": 5000,
        "callback_timeout": 60000,
        "compensate": "http://127.0.0.1:9/refund/{total}",
    },
    "predicate": {"language": "lua", "script": "return quantity > 0"},
    "work_config": {
        "max_retries": 3,
        "init_backoff": 200,
        "max_backoff": 5000,
        "backoff_type": "linear",
        "parallelism": 4,
        "concurrency": 8,
    },
}
FULL_SCRIPT = {
    **{key: value for key, value in FULL_HTTP.items() if key != "http"},
    "id": "price-script",
    "type": "script",
    "script": {"language": "ale", "script": "{:total (* quantity 2)}"},
    "memoizable": True,
}
FULL_FLOW = {
    **{key: value for key, value in FULL_HTTP.items() if key != "http"},
    "id": "price-flow",
    "type": "flow",
    "flow": {"goals": ["price-script", "price-calc"]},
}


def nested_form(definition: dict) -> dict:
    """A definition with each input's settings in the nested form of its role."""
    attributes = {}
    for name, spec in definition["attributes"].items():
        flat = {key: spec[key] for key in ("role", "type") if key in spec}
        settings = {key: spec[key] for key in ("default", "for_each") if key in spec}
        settings |= spec.get(spec["role"], {})
        if settings:
            flat[spec["role"]] = settings
        attributes[name] = flat
    return {**definition, "attributes": attributes}


@pytest.mark.parametrize(
    "definition", [FULL_HTTP, FULL_SCRIPT, FULL_FLOW], ids=["http", "script", "flow"]
)
def test_a_step_read_back_registers_as_the_same_step_in_either_form(definition):
    step = parse_step(definition)
    read = step.to_dict()
    assert parse_step(read) == step
    assert parse_step(nested_form(read)) == step
    assert parse_step(json.loads(json.dumps(read))).to_dict() == read


def test_the_read_form_uses_every_field_of_the_schema():
    """A field added to the schema but not written by ``to_dict`` (or the reverse) fails here."""
    written = set().union(
        *(json_paths(parse_step(d).to_dict()) for d in (FULL_HTTP, FULL_SCRIPT, FULL_FLOW))
    )
    declared = schema_paths(schema.document(schema.STEP_DEFINITION))
    flat = {"optional.default", "optional.for_each", "required.for_each"}
    nested = {path for path in declared if ".".join(path.split(".")[2:]) in flat}
    assert written == declared - nested


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        (HttpConfig, "HttpConfig"),
        (ScriptConfig, "ScriptConfig"),
        (WorkConfig, "WorkConfig"),
        (Step, schema.STEP_DEFINITION),
    ],
)
def test_every_field_of_a_step_value_is_declared_in_the_schema(value, shape):
    properties = set(schema.definitions()[shape]["properties"])
    assert {f.name for f in dataclasses.fields(value) if f.init} == properties


def test_every_field_of_an_attribute_is_declared_flat_or_in_its_role_settings():
    properties = schema.definitions()["AttributeDefinition"]["properties"]
    declared = set(properties) - set(schema.NESTED_ROLE_FORMS)
    for role in schema.NESTED_ROLE_FORMS:
        declared |= set(properties[role]["properties"])
    renamed = {"value": "const_value", "key": "meta_key"}
    fields = {renamed.get(name, name) for name in declared}
    assert {f.name for f in dataclasses.fields(AttributeSpec)} == fields


def json_paths(data: dict, prefix: str = "") -> set[str]:
    """Every key path of a step's JSON; attribute and label names become ``*``."""
    paths = set()
    for key, value in data.items():
        name = "*" if prefix in ("attributes.", "labels.") else key
        paths.add(prefix + name)
        if isinstance(value, dict):
            paths |= json_paths(value, f"{prefix}{name}.")
    return paths


def schema_paths(document: dict) -> set[str]:
    """Every property path a JSON Schema document declares, through ``$ref`` and ``allOf``."""
    definitions = document["$defs"]

    def walk(node: dict, prefix: str) -> set[str]:
        if "$ref" in node:
            return walk(definitions[node["$ref"].rsplit("/", 1)[1]], prefix)
        paths = set()
        for part in node.get("allOf", ()):
            paths |= walk(part, prefix)
        for name, sub in node.get("properties", {}).items():
            paths.add(prefix + name)
            paths |= walk(sub, f"{prefix}{name}.")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            paths |= {prefix + "*"} | walk(extra, f"{prefix}*.")
        return paths

    return walk(document, "")


# ------------------------------------------------------------- unknown fields

MATCH = {"language": "jpath", "script": "$"}
UNKNOWN_FIELDS = [
    ({"memoised": True}, ["memoised"]),
    ({"http": {**HTTP["http"], "compensation": "http://x/undo"}}, ["http.compensation"]),
    (
        {"attributes": {"a": {"role": "required", "required": {"colect": "all"}}}},
        ["attributes.a.required.colect"],
    ),
    (
        {"attributes": {"a": {"role": "required", "required": {"match": {**MATCH, "x": 1}}}}},
        ["attributes.a.required.match.x"],
    ),
    (
        {"attributes": {"a": {"role": "optional", "optional": {"deadline_ms": 5}}}},
        ["attributes.a.optional.deadline_ms"],
    ),
    (
        {"attributes": {"a": {"role": "required", "mapping": {"name": "b"}}}},
        ["attributes.a.mapping"],
    ),
    (
        {"attributes": {"a": {"role": "output", "output": {"mapping": {"rename": "b"}}}}},
        ["attributes.a.output.mapping.rename"],
    ),
    ({"predicate": {"language": "ale", "script": "1", "mode": "x"}}, ["predicate.mode"]),
    (
        {"work_config": {"rate_limit": 2, "deadline": 1}},
        ["work_config.rate_limit", "work_config.deadline"],
    ),
    ({"labels": {"a": "b"}, "timeout": 5, "deadline": 9}, ["timeout", "deadline"]),
]


@pytest.mark.parametrize(("change", "unknown"), UNKNOWN_FIELDS)
def test_unknown_fields_are_refused_each_by_name(change, unknown):
    with pytest.raises(ValidationError) as caught:
        parse_step({**HTTP, **change})
    assert [field for field, _ in caught.value.problems] == unknown
    assert all(reason.startswith("unknown field") for _, reason in caught.value.problems)


def test_unknown_fields_inside_a_script_are_refused():
    definition = script_step("s", "1")
    definition["script"]["lang"] = "ale"
    assert fields_of(definition) == {"script.lang"}


def test_a_nested_form_must_be_its_roles_and_agree_with_the_flat_one():
    definition = script_step("s", "1")
    definition["attributes"] = {
        "a": {"role": "required", "optional": {"default": "1"}},
        "b": {"role": "optional", "default": "1", "optional": {"default": "2"}},
        "c": {"role": "optional", "default": "1", "optional": {"default": "1"}},
    }
    assert fields_of(definition) == {"attributes.a.optional", "attributes.b.optional.default"}


# ---------------------------------------------------------- messages in JSON


@pytest.mark.parametrize(
    ("change", "field", "sent"),
    [
        ({"http": {"endpoint": 3}}, "http.endpoint", "got 3"),
        ({"http": {"endpoint": ""}}, "http.endpoint", 'got ""'),
        ({"http": None}, "http", "got null"),
        ({"name": None}, "name", "got null"),
        ({"id": None}, "id", "got null"),
        ({"type": "batch"}, "type", 'got "batch"'),
        ({"labels": {"team": False}}, "labels.team", "got false"),
        ({"work_config": {"parallelism": 0}}, "work_config.parallelism", "got 0"),
        ({"http": {"endpoint": "http://x", "timeout": "5s"}}, "http.timeout", 'got "5s"'),
        (
            {"attributes": {"a": {"role": "required", "for_each": None}}},
            "attributes.a.for_each",
            "got null",
        ),
    ],
)
def test_each_problem_is_named_once_and_says_what_was_sent_in_json(change, field, sent):
    with pytest.raises(ValidationError) as caught:
        parse_step({**HTTP, **change})
    ((where, reason),) = caught.value.problems
    assert (where, reason.endswith(sent)) == (field, True), reason
    assert "must" in reason


def test_no_message_speaks_python():
    bad = {
        "id": "",
        "name": 3,
        "type": None,
        "labels": {"a": None},
        "attributes": {
            "x": {"role": None, "type": ""},
            "y": {"role": "optional", "default": ""},
            "z": {"role": "optional", "type": "number", "default": "null"},
        },
        "http": {"endpoint": None, "method": "", "health_check": "", "timeout": None},
        "script": {"language": None, "script": None},
        "work_config": {"max_retries": None, "backoff_type": None},
    }
    with pytest.raises(ValidationError) as caught:
        parse_step(bad)
    reasons = [reason for _, reason in caught.value.problems]
    fields = [field for field, _ in caught.value.problems]
    assert len(fields) == len(set(fields))
    assert not [r for r in reasons if "None" in r or "''" in r or "True" in r], reasons
    assert len(reasons) >= 14
