"""The Ale reader: source text to forms, with the offset of each bracket and symbol for errors.

Atoms become their values (integers, also ``0x1F``; floats; ratios ``1/3``; strings;
``true``/``#t``, ``false``/``#f``, ``null``/``nil``, ``+inf``/``-inf``/``nan``; keywords)
or a ``Symbol`` that knows its offset; brackets (``(`` ``[`` ``{`` and the set's ``#{``)
become a ``Seq`` remembering its opener and offset, ``(a . b)`` a ``Seq`` with a
``tail``; ``'x`` becomes ``(quote x)``. Comments are ``;`` to the end of the line and
``#| ... |#`` (nesting). Commas count as spaces. Reading is iterative and caps
nesting at ``MAX_DEPTH``, so no source can exhaust the stack. Errors are ``SyntaxAt``
with a source offset, which ``position`` turns into the line and column users see.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from argyll.script.ale.budget import MAX_DEPTH
from argyll.script.ale.values import MISSING, Keyword, Symbol


@dataclass(frozen=True, slots=True)
class Seq:
    """A bracketed form as read: ``opener`` is "(", "[", "{" or "#{"; ``pos`` is its offset;
    ``tail`` is what follows the dot of ``(a b . c)`` (MISSING without one)."""

    opener: str
    items: tuple[Any, ...]
    pos: int
    tail: Any = MISSING


class SyntaxAt(Exception):
    """A compile error at a source offset; compile_ale turns it into ScriptSyntaxError."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


@dataclass(frozen=True, slots=True)
class _QuoteMark:
    """A ``'`` waiting for the datum it quotes."""

    pos: int


_TOKEN = re.compile(
    r"""(?P<space>(?:[\s,]|;[^\n]*)+)
      | (?P<block>\#\|)
      | (?P<open>\#\{|[(\[{])
      | (?P<close>[)\]}])
      | (?P<quote>')
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<unterminated>")
      | (?P<atom>[^\s,;()\[\]{}"'][^\s,;()\[\]{}"]*)""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]+)")
_RATIO = re.compile(r"([+-]?[0-9]+)/([0-9]+)")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "b": "\b", "f": "\f"}
_LITERALS: dict[str, Any] = {
    "true": True,
    "#t": True,
    "false": False,
    "#f": False,
    "null": None,
    "nil": None,
    "+inf": math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
    "nan": math.nan,
}
_CLOSERS = {"(": ")", "[": "]", "{": "}", "#{": "}"}
_DOT = object()
"""The ``.`` of a dotted pair, until its list closes."""


def read(source: str) -> list[Any]:
    """Read every top-level form. Iterative, so deep nesting cannot exhaust the stack."""
    stack: list[tuple[str, int, list[Any]]] = []
    items: list[Any] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        assert match is not None  # noqa: S101 — narrows the type: the alternatives cover every character
        kind, text = match.lastgroup, match.group()
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise SyntaxAt(f"nested deeper than {MAX_DEPTH} levels", pos)
            stack.append((text, pos, items))
            items = []
        elif kind == "close":
            items = _close(stack, items, text, pos)
        elif kind == "quote":
            items.append(_QuoteMark(pos))
        elif kind == "string":
            _push(items, _unescape(text, pos))
        elif kind == "atom":
            _push(items, _atom(text, pos))
        elif kind == "unterminated":
            raise SyntaxAt("unterminated string", pos)
        elif kind == "block":
            pos = _block_comment_end(source, pos)
            continue
        pos = match.end()
    if stack:
        opener, start, _ = stack[-1]
        raise SyntaxAt(f"'{opener}' is never closed", start)
    _check_dangling(items)
    if not items:
        raise SyntaxAt("empty script", 0)
    if any(item is _DOT for item in items):
        raise SyntaxAt("a dot outside a list", 0)
    return items


def position(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of a source offset."""
    line = source.count("\n", 0, pos) + 1
    return line, pos - source.rfind("\n", 0, pos)


def _close(
    stack: list[tuple[str, int, list[Any]]], items: list[Any], closer: str, pos: int
) -> list[Any]:
    """Finish the innermost bracketed form and return the item list it belongs to."""
    if not stack:
        raise SyntaxAt(f"unexpected '{closer}'", pos)
    opener, start, parent = stack.pop()
    if _CLOSERS[opener] != closer:
        raise SyntaxAt(f"'{closer}' does not close '{opener}'", pos)
    _check_dangling(items)
    if opener == "{" and len(items) % 2:
        raise SyntaxAt("object literal needs an even number of forms", start)
    tail = MISSING
    dots = [index for index, item in enumerate(items) if item is _DOT]
    if dots:
        if opener != "(" or dots != [len(items) - 2] or len(items) < 3:
            raise SyntaxAt("a dot must stand before the last item of a list: (a . b)", start)
        *items, _, tail = items
    _push(parent, Seq(opener, tuple(items), start, tail))
    return parent


def _block_comment_end(source: str, pos: int) -> int:
    """The offset after the ``|#`` that closes the ``#|`` at ``pos`` (block comments nest)."""
    depth, index = 0, pos
    while index < len(source):
        if source.startswith("#|", index):
            depth, index = depth + 1, index + 2
        elif source.startswith("|#", index):
            depth, index = depth - 1, index + 2
            if depth == 0:
                return index
        else:
            index += 1
    raise SyntaxAt("'#|' comment is never closed", pos)


def _push(items: list[Any], datum: Any) -> None:
    """Append a datum, first wrapping it in (quote ...) for each ``'`` before it."""
    while items and type(items[-1]) is _QuoteMark:
        datum = Seq("(", (Symbol("quote"), datum), items.pop().pos)
    items.append(datum)


def _check_dangling(items: list[Any]) -> None:
    if items and type(items[-1]) is _QuoteMark:
        raise SyntaxAt("nothing to quote after '", items[-1].pos)


def _unescape(text: str, pos: int) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        return _ESCAPES.get(match.group(1), match.group(1))

    return _ESCAPE.sub(replace, body)


def _atom(text: str, pos: int) -> Any:
    if text in _LITERALS:
        return _LITERALS[text]
    try:
        number = _number(text)
    except ValueError:
        raise SyntaxAt(f"number {text[:20]}... is too long", pos) from None
    if number is not None:
        return number
    if text == ".":
        return _DOT
    if text.startswith(":") and len(text) > 1:
        return Keyword(text[1:])
    if text.startswith("#"):
        raise SyntaxAt(f"unknown reader syntax {text[:20]}", pos)
    return Symbol(text, pos)


def _number(text: str) -> int | float | Fraction | None:
    if _INT.fullmatch(text):
        return int(text)
    if hexadecimal := _HEX.fullmatch(text):
        sign, digits = hexadecimal.groups()
        return int(sign + digits, 16)
    if ratio := _RATIO.fullmatch(text):
        numerator, denominator = map(int, ratio.groups())
        if denominator == 0:
            return None
        value = Fraction(numerator, denominator)
        return value.numerator if value.denominator == 1 else value
    if _FLOAT.fullmatch(text):
        return float(text)
    return None
