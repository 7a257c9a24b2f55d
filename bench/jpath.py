"""jpath beside Ale and Lua: compile time and evaluations/s of one predicate and one mapping.

Run: python -m bench.jpath [--seconds 1.0]. Prints one line per figure.

Two predicates, each the same test in the three languages, run on the step's
inputs as the engine binds them: a simple one ("a large order") and a richer
one ("a large order from an active customer, with a line ready to ship"). The
mapping takes one nested value out of a document: jpath queries the document as
``$``, Ale and Lua read it from ``value``. Each figure is
the best of three timed runs of at least ``--seconds`` each, so another process
taking the CPU for a moment does not lower it; the compile figure is a fresh
compile of the richer predicate (each source made unique with a comment where the
language caches chunks; the engine compiles a source once and keeps it).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from argyll.script.ale import compile_ale
from argyll.script.jpath import compile_jpath
from argyll.script.lua import compile_lua

INPUTS = {
    "order": {
        "total": 150,
        "lines": [{"sku": f"A-{n}", "status": "ready" if n == 7 else "new"} for n in range(10)],
    },
    "customer": {"id": "c-1", "active": True, "tier": "gold"},
}
SIMPLE = {"jpath": "$.order.total > 100", "ale": "(> (:total order) 100)"}
SIMPLE["lua"] = "return order.total > 100"
PREDICATES = {
    "jpath": (
        '$.order.total > 100 && $.customer.active == true && $.order.lines[?@.status == "ready"]'
    ),
    "ale": (
        "(and (> (:total order) 100) (:active customer)"
        ' (> (length (filter (lambda (l) (= (:status l) "ready")) (:lines order))) 0))'
    ),
    "lua": (
        "if not (order.total > 100 and customer.active) then return false end\n"
        'for _, l in ipairs(order.lines) do if l.status == "ready" then return true end end\n'
        "return false"
    ),
}
DOCUMENT = {"data": {"order": {"id": "o-1", "total": 150, "currency": "EUR"}}, "meta": {"v": 2}}
MAPPINGS = {
    "jpath": "$.data.order.total",
    "ale": "(:total (:order (:data value)))",
    "lua": "return value.data.order.total",
}
COMMENTS = {"jpath": "", "ale": "\n;; {}", "lua": "\n-- {}"}
"""jpath has no comments, and nothing caches its compiled queries."""
COMPILERS: dict[str, Callable[[str], Any]] = {
    "jpath": compile_jpath,
    "ale": compile_ale,
    "lua": compile_lua,
}


def rate(call: Callable[[], Any], seconds: float) -> float:
    """Calls per second: the best of three runs of at least ``seconds`` each."""
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(100):
                call()
            count += 100
        best = max(best, count / elapsed)
    return best


def bench_language(language: str, seconds: float) -> None:
    compiler = COMPILERS[language]
    simple, predicate = compiler(SIMPLE[language]), compiler(PREDICATES[language])
    mapping = compiler(MAPPINGS[language])
    assert simple.run(INPUTS) is True, language
    assert predicate.run(INPUTS) is True, language
    if language == "jpath":
        assert mapping.query(DOCUMENT) == 150
        map_once: Callable[[], Any] = lambda: mapping.query(DOCUMENT)  # noqa: E731
    else:
        bindings = {"value": DOCUMENT}
        assert mapping.run(bindings) == 150, language
        map_once = lambda: mapping.run(bindings)  # noqa: E731
    unique = itertools.count()
    comment = COMMENTS[language]
    compiles = rate(
        lambda: compiler(PREDICATES[language] + comment.format(next(unique))), seconds / 2
    )
    simples = rate(lambda: simple.run(INPUTS), seconds)
    predicates = rate(lambda: predicate.run(INPUTS), seconds)
    mappings = rate(map_once, seconds)
    print(
        f"{language:6} simple predicate {simples:>9,.0f}/s   richer predicate"
        f" {predicates:>8,.0f}/s   mapping {mappings:>9,.0f}/s"
        f"   compile {1e6 / compiles:7.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(f"# bench/jpath.py  {datetime.now().isoformat(timespec='minutes')}")
    for language in COMPILERS:
        bench_language(language, args.seconds)


if __name__ == "__main__":
    main()
