"""Every Ale snippet of upstream Argyll's documentation, with the result its text describes.

Written here as our own fixtures: the script, the inputs of the example (or of a
case the surrounding text describes) and the value it gives. Predicates are run
through the engine's own rule for a predicate's value.
"""

from __future__ import annotations

from typing import Any

import pytest
from ale_support import ale

from argyll.errors import ScriptError
from argyll.script.result import is_truthy

PRICE_CALCULATOR = """(let* ([subtotal (* quantity unit_price)]
       [tax      (* subtotal 0.08)]
       [shipping (if (> quantity 5) 0.0 9.99)])
  {:subtotal subtotal
   :tax      tax
   :shipping shipping
   :total    (+ subtotal tax shipping)})"""

SCRIPTS: list[tuple[str, dict[str, Any], Any]] = [
    # quickstart: the hello-script step
    ("{:greeting name}", {"name": "Argyll"}, {"greeting": "Argyll"}),
    # engine-api.yaml: the Greeter script step
    ('{:greeting (str "Hello, " name)}', {"name": "Ann"}, {"greeting": "Hello, Ann"}),
    # concepts/steps.md: Calculate Discount
    (
        "{:discounted_amount (* amount (- 1 discount_percent))}",
        {"amount": 200, "discount_percent": 0.25},
        {"discounted_amount": 150.0},
    ),
    # guides/step-types.md: the business-rule scenario
    (
        "{:discounted_amount (* original_amount (- 1 discount_rate))}",
        {"original_amount": 80, "discount_rate": 0.5},
        {"discounted_amount": 40.0},
    ),
    # examples/simple-step: the text formatter
    (
        '{\n  :formatted_text (str "[" name "] " text)\n}',
        {"name": "INFO", "text": "started"},
        {"formatted_text": "[INFO] started"},
    ),
    # examples/simple-step: the price calculator, shipping free above five items
    (
        PRICE_CALCULATOR,
        {"quantity": 2, "unit_price": 10},
        {"subtotal": 20, "tax": 1.6, "shipping": 9.99, "total": 31.59},
    ),
    (
        PRICE_CALCULATOR,
        {"quantity": 6, "unit_price": 10},
        {"subtotal": 60, "tax": 4.8, "shipping": 0.0, "total": 64.8},
    ),
]


@pytest.mark.parametrize(("script", "inputs", "outputs"), SCRIPTS)
def test_upstream_scripts(script: str, inputs: dict[str, Any], outputs: Any) -> None:
    assert ale(script, **inputs) == pytest.approx(outputs)


PREDICATES: list[tuple[str, dict[str, Any], bool]] = [
    # concepts/steps.md, guides/predicates.md: notify only for large amounts
    ("(> amount 100)", {"amount": 50}, False),
    ("(> amount 100)", {"amount": 150}, True),
    # guides/predicates.md, work-items.md: only when there are items
    ("(> (length items) 0)", {"items": []}, False),
    ("(> (length items) 0)", {"items": [1, 2]}, True),
    ("(>= amount 1000)", {"amount": 1000}, True),
    ("(>= amount 1000)", {"amount": 999.5}, False),
    # guides/predicates.md: the Ale examples of the languages section
    ('(eq status "active")', {"status": "active"}, True),
    ('(eq status "active")', {"status": "closed"}, False),
    ('(and (> amount 100) (eq status "active"))', {"amount": 150, "status": "active"}, True),
    ('(and (> amount 100) (eq status "active"))', {"amount": 50, "status": "active"}, False),
    ('(or (eq region "US") (eq region "EU"))', {"region": "EU"}, True),
    ('(or (eq region "US") (eq region "EU"))', {"region": "APAC"}, False),
    ('(eq (first statuses) "paid")', {"statuses": ["paid", "open"]}, True),
    ('(eq (first statuses) "paid")', {"statuses": ["open", "paid"]}, False),
    # guides/predicates.md: loyalty discount, premium customers, feature flags
    (
        '(and (>= years_member 2) (eq account_status "active"))',
        {"years_member": 3, "account_status": "active"},
        True,
    ),
    (
        '(and (>= years_member 2) (eq account_status "active"))',
        {"years_member": 1, "account_status": "active"},
        False,
    ),
    ('(eq customer_tier "premium")', {"customer_tier": "premium"}, True),
    ('(eq customer_tier "premium")', {"customer_tier": "basic"}, False),
    ("(eq feature_enabled true)", {"feature_enabled": True}, True),
    ("(eq feature_enabled true)", {"feature_enabled": False}, False),
    # guides/flow-design.md: the VIP discount
    (
        '(and (> order_total 1000) (eq customer_tier "gold"))',
        {"order_total": 1500, "customer_tier": "gold"},
        True,
    ),
    (
        '(and (> order_total 1000) (eq customer_tier "gold"))',
        {"order_total": 1500, "customer_tier": "silver"},
        False,
    ),
    # mcp guidance (openapi ingestion): a match script on the attribute's value
    ('(eq value "email")', {"value": "email"}, True),
    ('(eq value "email")', {"value": "sms"}, False),
]


@pytest.mark.parametrize(("script", "inputs", "passes"), PREDICATES)
def test_upstream_predicates(script: str, inputs: dict[str, Any], passes: bool) -> None:
    assert is_truthy(ale(script, **inputs)) is passes


def test_the_predicate_that_fails_is_an_error_not_a_skip() -> None:
    """guides/predicates.md: ``(/ 1 0)`` makes the step fail."""
    with pytest.raises(ScriptError, match="division by zero"):
        ale("(/ 1 0)")


def test_first_of_a_missing_lookup_is_null() -> None:
    """guides/predicates.md warns of ``(first expensive_lookup)`` when the input is null."""
    assert ale("(first expensive_lookup)", expensive_lookup=None) is None
