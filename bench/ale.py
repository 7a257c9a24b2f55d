"""Ale predicate speed beside lupa's Lua on the same predicate, in the same run.

Run: python -m bench.ale [--seconds 2]. Each language compiles the predicate once,
then evaluates it against the same inputs for about ``--seconds``; the figures are
evaluations per second (median and best window) and Ale's share of Lua's speed.
Goal: Ale ≥ 100,000/s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from argyll.script.ale import compile_ale
from argyll.script.lua import compile_lua

ALE_PREDICATE = """(and (> amount 100)
     (< amount 10000)
     (eq status "active")
     (or (eq region "US") (eq region "EU"))
     (>= years 2)
     (!= tier "blocked")
     (not (empty? items))
     (> (length items) 1)
     (eq (first items) "paid")
     (<= score 900))"""
LUA_PREDICATE = """return amount > 100
  and amount < 10000
  and status == "active"
  and (region == "US" or region == "EU")
  and years >= 2
  and tier ~= "blocked"
  and #items ~= 0
  and #items > 1
  and items[1] == "paid"
  and score <= 900"""
INPUTS: dict[str, Any] = {
    "amount": 250,
    "status": "active",
    "region": "EU",
    "years": 3,
    "tier": "gold",
    "items": ["paid", "open"],
    "score": 720,
}


def rates(program: Any, seconds: float) -> tuple[float, float]:
    """Evaluations per second of ``program.run(INPUTS)`` (which must pass): the median
    and the best of windows of 1,000 runs each, so a busy shared machine shows as a gap
    between the two rather than as one misleading figure."""
    assert program.run(INPUTS) is True  # the bench measures a predicate that holds
    windows: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for _ in range(1000):
            program.run(INPUTS)
        windows.append(time.perf_counter() - started)
    return 1000 / statistics.median(windows), 1000 / min(windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    ale_median, ale_best = rates(compile_ale(ALE_PREDICATE), args.seconds)
    lua_median, lua_best = rates(compile_lua(LUA_PREDICATE), args.seconds)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, ten-form predicate, compiled once")
    print(f"ale: {ale_median:,.0f} evaluations/s median, {ale_best:,.0f} best (goal >= 100,000)")
    print(f"lua (lupa): {lua_median:,.0f} evaluations/s median, {lua_best:,.0f} best")
    print(f"ale / lua: {ale_median / lua_median:.2f} median, {ale_best / lua_best:.2f} best")


if __name__ == "__main__":
    main()
