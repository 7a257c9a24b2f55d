"""The memo key (argyll.memo): what makes two work items share a memoized result."""

import hashlib
import json

import pytest

from argyll.memo import memo_key
from argyll.model import parse_step

DEFINITION = {
    "id": "discount",
    "name": "Discount",
    "type": "sync",
    "labels": {"team": "billing"},
    "http": {"endpoint": "http://127.0.0.1:9/discount", "timeout": 5000},
    "attributes": {
        "amount": {"role": "required", "type": "number"},
        "rate": {"role": "optional", "type": "number", "default": "0.1"},
        "discount": {"role": "output", "type": "number"},
    },
}
INPUTS = {"amount": 100, "rate": 0.1}


def step(**changes):
    return parse_step({**DEFINITION, **changes})


def key(inputs=INPUTS, **changes):
    return memo_key(step(**changes), inputs)


def test_the_key_is_the_sha256_of_the_canonical_definition_and_inputs():
    definition = {k: v for k, v in step().to_dict().items() if k not in ("name", "labels")}
    text = json.dumps(
        {"step": definition, "inputs": INPUTS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )

    assert key() == hashlib.sha256(text.encode()).hexdigest()


def test_the_same_step_and_inputs_give_the_same_key_in_any_order():
    reordered = {"rate": 0.1, "amount": 100}
    attributes = dict(reversed(DEFINITION["attributes"].items()))

    assert key(reordered) == key()
    assert key(attributes=attributes) == key()


def test_name_and_labels_are_not_part_of_the_key():
    assert key(name="Another name") == key()
    assert key(labels={"team": "sales", "tier": "gold"}) == key()
    assert key(labels={}) == key()


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "discount-v2"},
        {"version": "2"},
        {"http": {"endpoint": "http://127.0.0.1:9/discount/v2", "timeout": 5000}},
        {"http": {"endpoint": "http://127.0.0.1:9/discount", "timeout": 6000}},
        {"work_config": {"max_retries": 1}},
        {
            "attributes": {
                **DEFINITION["attributes"],
                "rate": {"role": "optional", "type": "number", "default": "0.2"},
            }
        },
        {"attributes": {**DEFINITION["attributes"], "note": {"role": "output"}}},
    ],
    ids=["id", "version", "endpoint", "timeout", "work_config", "default", "outputs"],
)
def test_every_other_field_of_the_step_is_part_of_the_key(changes):
    assert key(**changes) != key()


def test_a_script_step_is_keyed_by_its_script():
    script = {
        "id": "double",
        "type": "script",
        "script": {"language": "ale", "script": "(* n 2)"},
        "attributes": {"n": {"role": "required"}, "out": {"role": "output"}},
    }
    changed = {**script, "script": {"language": "ale", "script": "(* n 3)"}}

    assert memo_key(parse_step(script), {"n": 1}) != memo_key(parse_step(changed), {"n": 1})


@pytest.mark.parametrize(
    "inputs",
    [
        {"amount": 101, "rate": 0.1},
        {"amount": "100", "rate": 0.1},
        {"amount": 100},
        {"amount": 100, "rate": 0.1, "extra": None},
        {"amount": [100], "rate": 0.1},
        {"amount": True, "rate": 0.1},
    ],
)
def test_other_inputs_give_another_key(inputs):
    assert key(inputs) != key()


def test_a_whole_float_is_the_integer_it_equals_at_any_depth():
    assert key({"amount": 100.0, "rate": 0.1}) == key()
    nested = {"amount": {"list": [1, 2.0, {"x": 3}]}, "rate": 0.1}
    same = {"amount": {"list": [1.0, 2, {"x": 3.0}]}, "rate": 0.1}

    assert key(nested) == key(same)
    assert key({"amount": 100.5, "rate": 0.1}) != key({"amount": 100, "rate": 0.1})


def test_meta_inputs_are_not_part_of_the_key_and_const_inputs_are():
    attributes = {
        **DEFINITION["attributes"],
        "flow": {"role": "meta", "type": "string", "meta": {"key": "flow_id"}},
        "receipt": {"role": "meta", "type": "string", "meta": {"key": "receipt_token"}},
        "currency": {"role": "const", "type": "string", "const": {"value": '"EUR"'}},
    }
    with_meta = step(attributes=attributes)
    first = memo_key(with_meta, {**INPUTS, "flow": "f-1", "receipt": "r-1", "currency": "EUR"})
    second = memo_key(with_meta, {**INPUTS, "flow": "f-2", "receipt": "r-2", "currency": "EUR"})
    other_currency = memo_key(with_meta, {**INPUTS, "flow": "f-1", "currency": "USD"})

    assert first == second
    assert first != other_currency
    assert first == memo_key(with_meta, {**INPUTS, "currency": "EUR"})
