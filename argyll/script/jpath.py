"""The jpath language: RFC 9535 JSONPath queries, and what their results mean to Argyll.

Queries are compiled and run by ``jsonpath-rfc9535`` (docs/jpath.md says why that
library). On top of it, Argyll's rules, the same as upstream Argyll's:

- a query's *truth* (predicates, ``required.match``) is whether it selects at
  least one node; a node holding ``null`` counts;
- a query's *value* (mappings) is nothing when it selects no node, the node's
  value when it selects one, and the list of values when it selects several;
- a bare filter expression such as ``$.order.total > 100`` is shorthand for
  ``$[?$.order.total > 100]``: it selects the document's members when the test
  holds, so it is true only for a non-empty object or array.

What ``$`` is depends on the use: a predicate queries the step's inputs as one
object (``run``); a mapping and a match query the value itself (``query`` and
``matches``).

A query cannot loop: its cost grows with the document (polynomially when
filters nest ``..`` queries, and the library stops a ``..`` 100 levels down). The
regular expressions of ``match()`` and ``search()`` can backtrack for a long time,
though, so each run has a time limit that every regex call spends from (``regex``
stops a match that outlives its timeout).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import jsonpath_rfc9535 as rfc9535
import regex
from iregexp_check import check
from jsonpath_rfc9535.function_extensions import Match, Search
from jsonpath_rfc9535.function_extensions._pattern import map_re
from jsonpath_rfc9535.selectors import FilterSelector

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError
from argyll.script.ale.reader import position
from argyll.script.result import NOTHING

DEFAULT_TIME_LIMIT = 2_000
"""Milliseconds one run may spend in regular expressions."""


_SHORTHAND = "$[?{}]"
_SHORTHAND_OFFSET = len("$[?")
_deadline: ContextVar[float] = ContextVar("jpath_deadline")


class _OverTime(Exception):
    """A regular expression spent what was left of the run's time limit."""


def _remaining() -> float:
    """Seconds left before the deadline of the run under way."""
    left = _deadline.get() - time.monotonic()
    if left <= 0:
        raise _OverTime
    return left


class _TimedMatch(Match):
    """The standard ``match()``, under the run's time limit."""

    def __call__(self, string: str, pattern: object) -> bool:
        if not isinstance(pattern, str) or not check(pattern):
            return False
        try:
            return bool(regex.fullmatch(map_re(pattern), string, timeout=_remaining()))
        except TimeoutError:
            raise _OverTime from None
        except (TypeError, regex.error):
            return False


class _TimedSearch(Search):
    """The standard ``search()``, under the run's time limit."""

    def __call__(self, string: str, pattern: object) -> bool:
        if not isinstance(pattern, str) or not check(pattern):
            return False
        try:
            found = regex.search(map_re(pattern), string, regex.VERSION1, timeout=_remaining())
        except TimeoutError:
            raise _OverTime from None
        except (TypeError, regex.error):
            return False
        return found is not None


class _Environment(rfc9535.JSONPathEnvironment):
    def setup_function_extensions(self) -> None:
        super().setup_function_extensions()
        self.function_extensions["match"] = _TimedMatch()
        self.function_extensions["search"] = _TimedSearch()


_ENVIRONMENT = _Environment()


class JPathProgram:
    """A compiled jpath query; immutable, so one program may run any number of times."""

    __slots__ = ("_query", "source")

    def __init__(self, source: str, query: rfc9535.JSONPathQuery) -> None:
        self.source, self._query = source, query

    def __repr__(self) -> str:
        return f"JPathProgram({self.source!r})"

    def run(self, bindings: Mapping[str, Any], *, time_limit: int = DEFAULT_TIME_LIMIT) -> bool:
        """A predicate's truth: ``$`` is the step's inputs, as one object."""
        return self.matches(dict(bindings), time_limit=time_limit)

    def matches(self, document: Any, *, time_limit: int = DEFAULT_TIME_LIMIT) -> bool:
        """Whether the query selects at least one node of ``document`` (null ones count).

        Stops at the first node: a shorthand filter on ``$`` would give the same
        answer for every member of the document.
        """
        with _limited(time_limit):
            return next(iter(self._query.finditer(document)), None) is not None

    def query(self, document: Any, *, time_limit: int = DEFAULT_TIME_LIMIT) -> Any:
        """A mapping's value: NOTHING, the one value selected, or the list of them all."""
        values = self.select(document, time_limit=time_limit)
        if not values:
            return NOTHING
        return values[0] if len(values) == 1 else values

    def select(self, document: Any, *, time_limit: int = DEFAULT_TIME_LIMIT) -> list[Any]:
        """The values of every node the query selects, in the order RFC 9535 gives them."""
        with _limited(time_limit):
            return [node.value for node in self._query.finditer(document)]


@contextmanager
def _limited(time_limit: int) -> Iterator[None]:
    """One run: its regex deadline set, and the library's run-time errors made ours."""
    token = _deadline.set(time.monotonic() + time_limit / 1000)
    try:
        yield
    except _OverTime:
        raise ScriptLimitError("milliseconds", time_limit) from None
    except rfc9535.JSONPathRecursionError:
        depth = _ENVIRONMENT.max_recursion_depth
        raise ScriptError(f"'..' went deeper than {depth} levels into the document") from None
    finally:
        _deadline.reset(token)


def compile_jpath(source: str) -> JPathProgram:
    """Compile a query, or a bare filter expression; raises ScriptSyntaxError with its place.

    Whitespace around the query is dropped first: RFC 9535 refuses it, and the
    shorthand would accept it, so ``"$.a\\n"`` (a YAML block's last newline)
    would quietly mean ``$[?$.a]`` instead of ``$.a``.
    """
    query = source.strip()
    lead = len(source) - len(source.lstrip())
    try:
        return JPathProgram(source, _ENVIRONMENT.compile(query))
    except rfc9535.JSONPathError as error:
        as_path = error
    try:
        return JPathProgram(source, _shorthand(query))
    except rfc9535.JSONPathError as error:
        as_filter = error
    message, pos = max(_place(as_path, 0), _place(as_filter, _SHORTHAND_OFFSET), key=_offset)
    raise ScriptSyntaxError(message, *position(source, lead + pos)) from None


def _shorthand(source: str) -> rfc9535.JSONPathQuery:
    """``source`` as the filter of ``$[?…]``, refused unless it is one filter and nothing else.

    Without the check a text such as ``@]..x[?@`` would pass, since wrapped it reads
    as a longer query: it must wrap into one segment holding one filter selector.
    """
    wrapped = _ENVIRONMENT.compile(_SHORTHAND.format(source))
    selectors = [selector for segment in wrapped.segments for selector in segment.selectors]
    one_filter = len(selectors) == 1 and isinstance(selectors[0], FilterSelector)
    if len(wrapped.segments) == 1 and one_filter:
        return wrapped
    raise rfc9535.JSONPathError("not a query, nor a filter expression")


def _place(error: rfc9535.JSONPathError, offset: int) -> tuple[str, int]:
    """The library's message without its own position, and the offset in the source."""
    message = str(error.args[0]) if error.args else "invalid query"
    at = error.token.index - offset if error.token is not None else 0
    return message, max(at, 0)


def _offset(place: tuple[str, int]) -> int:
    return place[1]
