"""A step card shows what a mapping renames or turns, and the step's const and meta inputs."""

from __future__ import annotations

from argyll.model import parse_step
from argyll.ui.graph import attribute_label, card_rows

STEP = parse_step(
    {
        "id": "lookup",
        "type": "sync",
        "http": {"endpoint": "http://crm.test/lookup"},
        "attributes": {
            "user_email": {
                "role": "required",
                "type": "string",
                "required": {"mapping": {"name": "email"}},
            },
            "total": {
                "role": "optional",
                "type": "number",
                "optional": {"mapping": {"script": {"language": "jpath", "script": "$.t"}}},
            },
            "name": {
                "role": "output",
                "type": "string",
                "output": {"mapping": {"name": "user_name"}},
            },
            "currency": {"role": "const", "type": "string", "const": {"value": '"EUR"'}},
            "token": {"role": "meta", "meta": {"key": "receipt_token"}},
        },
    }
)


def test_rows_list_const_and_meta_inputs_before_the_outputs() -> None:
    assert card_rows(STEP) == ["user_email", "total", "currency", "token", "name"]


def test_labels_name_the_services_side_and_the_fixed_inputs() -> None:
    labels = [attribute_label(STEP, name) for name in card_rows(STEP)]
    assert labels == [
        "● user_email → email: string",
        "○ total →ƒ: number",
        '◆ currency: string = "EUR"',
        "◇ token: receipt_token",
        "name ← user_name: string ▸",
    ]
