"""The one JSON encoder: orjson where it can, the standard library where orjson refuses."""

import json
from enum import StrEnum

import pytest

from argyll.json_encoding import to_json, to_json_bytes


class Colour(StrEnum):
    RED = "red"


def test_plain_values_are_compact_utf8_json():
    value = {"a": [1, 2.5, None, True], "é": "ü", "c": Colour.RED, "t": (1, 2)}
    assert to_json(value) == '{"a":[1,2.5,null,true],"é":"ü","c":"red","t":[1,2]}'
    assert to_json_bytes(value) == to_json(value).encode()


@pytest.mark.parametrize(
    "value",
    [{"big": 2**70, "nested": [{"n": -(2**80)}]}, {1: "one", "x": {2: [3]}}],
    ids=["beyond-64-bits", "non-string-keys"],
)
def test_what_orjson_refuses_the_standard_library_writes(value):
    assert json.loads(to_json(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_numbers_json_cannot_hold_are_written_as_null_on_both_paths(number):
    assert to_json({"x": number}) == '{"x":null}'
    assert json.loads(to_json({"x": [number], "big": 2**70})) == {"x": [None], "big": 2**70}


def test_values_json_cannot_hold_are_refused():
    with pytest.raises(TypeError):
        to_json({"s": {1, 2}})
