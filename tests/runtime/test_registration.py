"""Every registration rule refuses a bad registration with a clear message and changes nothing."""

import pytest

from argyll import ConflictError, Engine, ValidationError
from argyll.errors import NotFoundError
from argyll.testing import script_step

BASE = [
    script_step("producer", "{:x 1}", outputs=["x"], types={"x": "number"}),
    script_step("consumer", "{:y x}", requires=["x"], outputs=["y"]),
]

HTTP = {"id": "svc", "type": "sync", "http": {"endpoint": "http://127.0.0.1:9/run"}}

BAD = {
    "id with spaces": ({**HTTP, "id": "a b"}, "id"),
    "unknown type": ({**HTTP, "type": "batch"}, "type"),
    "http step without http": ({"id": "svc", "type": "sync"}, "http"),
    "script step with http": (
        {**script_step("s", "1"), "http": HTTP["http"]},
        "http",
    ),
    "unknown attribute type": (
        {**HTTP, "attributes": {"a": {"role": "required", "type": "int"}}},
        "attributes.a.type",
    ),
    "default on a required input": (
        {**HTTP, "attributes": {"a": {"role": "required", "default": "1"}}},
        "attributes.a.default",
    ),
    "default of the wrong type": (
        {**HTTP, "attributes": {"a": {"role": "optional", "type": "number", "default": "true"}}},
        "attributes.a.default",
    ),
    "default that is not JSON": (
        {**HTTP, "attributes": {"a": {"role": "optional", "default": "{oops"}}},
        "attributes.a.default",
    ),
    "for_each on a string": (
        {**HTTP, "attributes": {"a": {"role": "required", "type": "string", "for_each": True}}},
        "attributes.a.for_each",
    ),
    "ale that does not compile": (script_step("s", "(+ 1 2"), "script.script"),
    "lua that does not compile": (
        script_step("s", "return {", language="lua"),
        "script.script",
    ),
    "predicate that does not compile": (
        script_step("s", "1", predicate="(if"),
        "predicate.script",
    ),
    "attribute type clash across the catalog": (
        script_step("other", "1", requires=["x"], types={"x": "string"}),
        "attributes.x.type",
    ),
    "dependency cycle": (
        script_step("loop", "1", requires=["y"], outputs=["x"]),
        "attributes",
    ),
    "bad retry settings": (
        {**HTTP, "work_config": {"backoff_type": "random", "parallelism": 0}},
        "work_config.backoff_type",
    ),
}


@pytest.fixture
async def seeded(engine: Engine) -> Engine:
    for definition in BASE:
        await engine.register_step(definition)
    return engine


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
async def test_bad_registration_is_refused_and_changes_nothing(seeded: Engine, case):
    definition, field = case
    before = seeded.catalog
    with pytest.raises(ValidationError) as caught:
        await seeded.register_step(definition)
    fields = [f for f, _ in caught.value.problems]
    assert field in fields
    assert all(reason for _, reason in caught.value.problems)
    assert seeded.catalog == before
    assert len(await seeded.store.read("catalog")) == len(BASE)


async def test_compile_errors_name_a_position(engine: Engine):
    with pytest.raises(ValidationError) as caught:
        await engine.register_step(script_step("s", '(+ 1\n  (* 2 3)\n  "open'))
    ((_, reason),) = caught.value.problems
    assert "line 3" in reason


async def test_conflicting_definition_changes_nothing(seeded: Engine):
    before = seeded.catalog
    with pytest.raises(ConflictError):
        await seeded.register_step({**BASE[0], "name": "Changed"})
    with pytest.raises(NotFoundError):
        await seeded.update_step("ghost", {**BASE[0], "id": "ghost"})
    with pytest.raises(ValidationError):
        await seeded.update_step("producer", BASE[1])
    assert seeded.catalog == before
