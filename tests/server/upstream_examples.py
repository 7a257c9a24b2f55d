"""Step definitions in the shapes upstream Argyll's step documentation shows, as our own fixtures.

Each one has the form of an example of upstream's docs/concepts/steps.md or
docs/guides/step-types.md (and the compensation and memoization guides): the same fields,
the same nesting, our own names and values. ``{service}`` is replaced by the URL of the
test's step service.
"""

from __future__ import annotations

from typing import Any

LOOKUP_CUSTOMER = {
    "id": "find-member",
    "name": "Find Member",
    "type": "sync",
    "http": {"method": "POST", "endpoint": "{service}/members/find", "timeout": 5000},
    "attributes": {
        "member_id": {"role": "required"},
        "phone": {"role": "optional"},
        "member": {"role": "output"},
    },
}
START_PAYMENT = {
    "id": "start-transfer",
    "name": "Start Transfer",
    "type": "async",
    "http": {"method": "POST", "endpoint": "{service}/transfers/start", "timeout": 1000},
    "attributes": {
        "sum": {"role": "required"},
        "transfer_id": {"role": "output"},
    },
}
DISCOUNT_SCRIPT = {
    "id": "reduce-price",
    "name": "Reduce Price",
    "type": "script",
    "script": {"language": "ale", "script": "{:reduced (* price (- 1 rebate))}"},
    "attributes": {
        "price": {"role": "required"},
        "rebate": {"role": "required"},
        "reduced": {"role": "output"},
    },
}
CHILD_GOAL = {
    "id": "load-profile",
    "name": "Load Profile",
    "type": "script",
    "script": {
        "language": "ale",
        "script": '{:display_name (str "member " account_id) :is_staff (= account_id "a-1")}',
    },
    "attributes": {
        "account_id": {"role": "required"},
        "display_name": {"role": "output"},
        "is_staff": {"role": "output"},
    },
}
SUB_FLOW = {
    "id": "check-access",
    "name": "Check Access",
    "type": "flow",
    "flow": {"goals": ["load-profile"]},
    "attributes": {
        "account": {"role": "required", "required": {"mapping": {"name": "account_id"}}},
        "label": {"role": "output", "output": {"mapping": {"name": "display_name"}}},
        "staff": {"role": "output", "output": {"mapping": {"name": "is_staff"}}},
    },
}
ORDER_ATTRIBUTES = {
    "id": "place-order",
    "name": "Place Order",
    "type": "sync",
    "http": {"endpoint": "{service}/orders", "timeout": 5000},
    "attributes": {
        "buyer_id": {"role": "required"},
        "basket": {"role": "required"},
        "remarks": {"role": "optional"},
        "order_ref": {"role": "output"},
        "grand_total": {"role": "output"},
    },
}
PREDICATE = {
    "id": "maybe-alert",
    "name": "Maybe Alert",
    "type": "sync",
    "http": {"endpoint": "{service}/alert", "timeout": 5000},
    "attributes": {
        "total": {"role": "required"},
        "alerted": {"role": "output"},
    },
    "predicate": {"language": "ale", "script": "(> total 100)"},
}
FOR_EACH = {
    "id": "price-lines",
    "name": "Price Lines",
    "type": "sync",
    "http": {"endpoint": "{service}/lines", "timeout": 5000},
    "attributes": {
        "lines": {"role": "required", "type": "array", "required": {"for_each": True}},
        "line_total": {"role": "output"},
    },
}
RENAMED_INPUT = {
    "id": "send-receipt",
    "name": "Send Receipt",
    "type": "sync",
    "http": {"endpoint": "{service}/receipts", "timeout": 5000},
    "attributes": {
        "buyer_email": {
            "role": "required",
            "type": "string",
            "required": {"mapping": {"name": "email"}},
        },
        "sent": {"role": "output"},
    },
}
JPATH_INPUT = {
    "id": "bill-order",
    "name": "Bill Order",
    "type": "sync",
    "http": {"endpoint": "{service}/bill", "timeout": 5000},
    "attributes": {
        "order_sum": {
            "role": "required",
            "type": "number",
            "required": {
                "mapping": {"script": {"language": "jpath", "script": "$.payload.order.sum"}}
            },
        },
        "billed": {"role": "output"},
    },
}
RENAMED_AND_JPATH = {
    "id": "tag-buyer",
    "name": "Tag Buyer",
    "type": "sync",
    "http": {"endpoint": "{service}/tag", "timeout": 5000},
    "attributes": {
        "buyer_key": {
            "role": "required",
            "type": "string",
            "required": {
                "mapping": {
                    "name": "buyerKey",
                    "script": {"language": "jpath", "script": "$.account.key"},
                }
            },
        },
        "tagged": {"role": "output"},
    },
}
PARALLEL_FOR_EACH = {
    "id": "ship-parcels",
    "name": "Ship Parcels",
    "type": "sync",
    "http": {"endpoint": "{service}/parcels/ship", "timeout": 5000},
    "work_config": {"parallelism": 10},
    "attributes": {
        "parcels": {"role": "required", "type": "array", "required": {"for_each": True}},
        "shipped_parcel": {"role": "output", "type": "object"},
    },
}
CHARGE_WITH_REFUND = {
    "id": "take-deposit",
    "name": "Take Deposit",
    "type": "sync",
    "http": {
        "endpoint": "{service}/deposits",
        "timeout": 1000,
        "compensate": "{service}/deposits/{deposit_id}/refund",
    },
    "attributes": {
        "deposit": {"role": "required", "type": "number"},
        "deposit_id": {"role": "output", "type": "string"},
    },
}
RESERVE_WITH_RETRIES = {
    "id": "hold-seats",
    "name": "Hold Seats",
    "type": "sync",
    "http": {
        "endpoint": "{service}/seats/hold",
        "timeout": 3000,
        "compensate": "{service}/seats/release/{hold_id}",
    },
    "work_config": {
        "max_retries": 5,
        "init_backoff": 500,
        "max_backoff": 30000,
        "backoff_type": "exponential",
    },
    "attributes": {
        "seat_class": {"role": "required", "type": "string"},
        "seats": {"role": "required", "type": "number"},
        "deposit_id": {"role": "required", "type": "string"},
        "hold_id": {"role": "output", "type": "string"},
    },
}
MEMOIZED = {
    "id": "rate-lookup",
    "name": "Rate Lookup",
    "type": "sync",
    "memoizable": True,
    "http": {"endpoint": "{service}/rates", "timeout": 5000},
    "attributes": {
        "currency": {"role": "required", "type": "string"},
        "rate": {"role": "output", "type": "number"},
    },
}
CONST_AND_META = {
    "id": "stamp-order",
    "name": "Stamp Order",
    "type": "sync",
    "http": {"endpoint": "{service}/stamp", "timeout": 5000},
    "attributes": {
        "order_ref": {"role": "required", "type": "string"},
        "channel": {"role": "const", "type": "string", "const": {"value": '"web"'}},
        "flow": {"role": "meta", "type": "string", "meta": {"key": "flow_id"}},
        "stamped": {"role": "output"},
    },
}
OPTIONAL_WITH_DEADLINE = {
    "id": "pick-offer",
    "name": "Pick Offer",
    "type": "script",
    "script": {"language": "ale", "script": '{:offer (str item ":" promo)}'},
    "attributes": {
        "item": {"role": "required", "type": "string"},
        "promo": {
            "role": "optional",
            "type": "string",
            "optional": {"default": '"none"', "deadline": 0, "collect": "first"},
        },
        "offer": {"role": "output", "type": "string"},
    },
}

ALL: dict[str, dict[str, Any]] = {
    name.lower(): value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, dict)
}


def served(definition: dict[str, Any], service: str) -> dict[str, Any]:
    """The definition with ``{service}`` replaced by the step service's URL."""
    import json

    return json.loads(json.dumps(definition).replace("{service}", service))
