"""Ale scripts are checked when a step is registered: a name nothing binds is a 400."""

from __future__ import annotations

from typing import Any

import pytest
from server_support import Api, problem

from argyll import Engine
from argyll.testing import script_step


def _predicated(script: str, requires: list[str]) -> dict[str, Any]:
    attributes: dict[str, Any] = {name: {"role": "required"} for name in requires}
    attributes["notified"] = {"role": "output"}
    return {
        "id": "notify",
        "type": "sync",
        "http": {"endpoint": "http://127.0.0.1:9/notify", "timeout": 1000},
        "attributes": attributes,
        "predicate": {"language": "ale", "script": script},
    }


async def test_an_unknown_symbol_is_refused_naming_it_and_its_position(api: Api) -> None:
    before = await api.snapshot()
    step = script_step(
        "total",
        "{:total\n  (* quantity unit_prise)}",
        requires=["quantity", "unit_price"],
        outputs=["total"],
    )
    body = problem(await api.client.post("/engine/step", json=step), 400)
    [found] = body["problems"]
    assert found["field"] == "script.script"
    assert "'unit_prise'" in found["reason"]
    assert "line 2, column 15" in found["reason"]
    assert await api.snapshot() == before


async def test_a_predicate_may_name_only_the_steps_inputs(api: Api) -> None:
    refused = _predicated('(eq status "active")', ["amount"])
    body = problem(await api.client.post("/engine/step", json=refused), 400)
    assert [(p["field"], "'status'" in p["reason"]) for p in body["problems"]] == [
        ("predicate.script", True)
    ]
    accepted = _predicated('(and (> amount 100) (eq status "active"))', ["amount", "status"])
    assert (await api.client.post("/engine/step", json=accepted)).status_code == 201


async def test_an_output_is_not_a_name_a_script_is_given(api: Api) -> None:
    step = script_step("echo", "{:greeting greeting}", requires=["name"], outputs=["greeting"])
    body = problem(await api.client.post("/engine/step", json=step), 400)
    assert "'greeting'" in body["problems"][0]["reason"]


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("(current-time)", "non-deterministic"),
        ('(println "hi")', "input or output"),
        ("(go 1)", "concurrent"),
        ("(eval '(+ 1 2))", "compiles or expands code"),
    ],
)
async def test_names_left_out_of_ale_are_refused_with_the_reason(
    api: Api, script: str, reason: str
) -> None:
    step = script_step("impure", script, outputs=["result"])
    body = problem(await api.client.post("/engine/step", json=step), 400)
    assert reason in body["problems"][0]["reason"]


async def test_locals_builtins_and_inputs_are_all_known(api: Api) -> None:
    script = "(define (twice x) (* 2 x)) (let [n (twice amount)] {:doubled (map inc (range n))})"
    step = script_step("fine", script, requires=["amount"], outputs=["doubled"])
    assert (await api.client.post("/engine/step", json=step)).status_code == 201


async def test_every_unknown_symbol_is_named_in_source_order(api: Api) -> None:
    step = script_step("many", "(+ b a (c 1) a)", outputs=["result"])
    body = problem(await api.client.post("/engine/step", json=step), 400)
    named = [p["reason"].split("'")[1] for p in body["problems"]]
    assert named == ["b", "a", "c"]


async def test_consts_metas_and_mapped_names_are_inputs_a_match_sees_only_value(api: Api) -> None:
    step = {
        "id": "priced",
        "type": "script",
        "attributes": {
            "quantity": {
                "role": "required",
                "required": {
                    "match": {"language": "ale", "script": "(> value 0)"},
                    "mapping": {"name": "qty", "script": {"language": "ale", "script": "value"}},
                },
            },
            "currency": {"role": "const", "const": {"value": '"EUR"'}},
            "flow": {"role": "meta", "meta": {"key": "flow_id"}},
            "label": {"role": "output"},
        },
        "script": {"language": "ale", "script": '{:label (str qty " " currency " " flow)}'},
    }
    assert (await api.client.post("/engine/step", json=step)).status_code == 201
    step["attributes"]["quantity"]["required"]["match"]["script"] = "(> quantity 0)"
    body = problem(await api.client.put("/engine/step/priced", json=step), 400)
    assert [p["field"] for p in body["problems"]] == ["attributes.quantity.required.match.script"]


async def test_a_lua_global_that_is_no_input_is_refused(api: Api) -> None:
    step = script_step(
        "lua",
        "return {total = quantity * unit_prise}",
        requires=["quantity"],
        outputs=["total"],
        language="lua",
    )
    body = problem(await api.client.post("/engine/step", json=step), 400)
    [found] = body["problems"]
    assert found["field"] == "script.script"
    assert "'unit_prise'" in found["reason"] and "line 1, column 28" in found["reason"]
    step["script"]["script"] = "local rate = 2\nreturn {total = quantity * rate * math.pi}"
    assert (await api.client.post("/engine/step", json=step)).status_code == 201


def _upstream_predicate(step_id: str, script: str, inputs: dict[str, str]) -> dict[str, Any]:
    """A step as upstream Argyll's guides write it: typed attributes, an HTTP call, a predicate."""
    attributes: dict[str, Any] = {n: {"role": "required", "type": t} for n, t in inputs.items()}
    attributes["done"] = {"role": "output", "type": "boolean"}
    return {
        "id": step_id,
        "name": step_id.replace("-", " ").title(),
        "type": "sync",
        "http": {"endpoint": f"https://api.example.com/{step_id}", "timeout": 5000},
        "attributes": attributes,
        "predicate": {"language": "ale", "script": script},
    }


@pytest.mark.parametrize(
    "definition",
    [
        _upstream_predicate("send-notification", "(> amount 100)", {"amount": "number"}),
        _upstream_predicate("process-items", "(> (length items) 0)", {"items": "array"}),
        _upstream_predicate(
            "apply-loyalty-discount",
            '(and (>= years_member 2) (eq account_status "active"))',
            {"years_member": "number", "account_status": "string"},
        ),
        _upstream_predicate(
            "apply-vip-discount",
            '(and (> order_total 1000) (eq customer_tier "gold"))',
            {"order_total": "number", "customer_tier": "string"},
        ),
        _upstream_predicate(
            "experimental", "(eq feature_enabled true)", {"feature_enabled": "boolean"}
        ),
    ],
    ids=lambda definition: definition["id"],
)
async def test_upstream_guides_steps_register_unchanged(
    api: Api, definition: dict[str, Any]
) -> None:
    response = await api.client.post("/engine/step", json=definition)
    assert response.status_code == 201, response.text


async def test_an_absent_optional_input_is_null_to_the_script() -> None:
    step = script_step(
        "greet",
        '{:greeting (str "Hello, " (if title (str title " ") "") name)}',
        requires=["name"],
        optional={"title": None},
        outputs=["greeting"],
    )
    async with Engine("memory://") as engine:
        await engine.register_step(step)
        outputs = []
        for init in ({"name": "Ann"}, {"name": "Ann", "title": "Dr"}):
            flow_id = await engine.start_flow(["greet"], init)
            await engine.wait_flow(flow_id, timeout=10)
            events = await engine.flow_events(flow_id)
            outputs += [e["data"]["outputs"] for e in events if e["type"] == "work_succeeded"]
    assert outputs == [{"greeting": "Hello, Ann"}, {"greeting": "Hello, Dr Ann"}]
