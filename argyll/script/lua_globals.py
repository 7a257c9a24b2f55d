"""The global names a Lua script reads that nothing gives it, found without running it.

A Lua script reading a global that is neither an input, a library name of the
sandbox (``argyll.script.lua``) nor a name the script itself declares gets nil,
silently: usually a typo or a missing input. Registration refuses such a script,
naming the global and where it is first read.

This is a scan of the tokens, not a parse: a name counts as declared anywhere in
the script once it is made local, a parameter, a loop variable, a label, a
function's name or the target of an assignment (or a table key), wherever that
is. So the check can miss a mistake (a local used outside its block) but never
refuses a script that gives every name it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

SANDBOX_GLOBALS = frozenset(
    {
        "assert",
        "error",
        "ipairs",
        "pairs",
        "next",
        "select",
        "tonumber",
        "tostring",
        "type",
        "unpack",
        "rawequal",
        "rawget",
        "rawlen",
        "rawset",
        "getmetatable",
        "setmetatable",
        "pcall",
        "_VERSION",
        "_G",
        "string",
        "table",
        "math",
        "utf8",
    }
)
"""The globals the sandbox gives every run besides its inputs."""

_KEYWORDS = frozenset(
    {
        *("and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto"),
        *("if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true"),
        *("until", "while"),
    }
)
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<long_comment>--\[(?P<comment_level>=*)\[)
      | (?P<comment>--[^\n]*)
      | (?P<long_string>\[(?P<string_level>=*)\[)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<number>0[xX][0-9a-fA-F.]+(?:[pP][+-]?\d+)?
                  |\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>\.\.\.|\.\.|::|==|~=|<=|>=|//|<<|>>|.)""",
    re.VERBOSE | re.DOTALL,
)


_ATTRIBS = frozenset({"const", "close"})
"""The attributes of ``local x <const>``."""


@dataclass(frozen=True, slots=True)
class UnknownGlobal:
    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int


def unknown_globals(source: str, given: Iterable[str]) -> list[UnknownGlobal]:
    """The globals ``source`` reads that are neither ``given``, sandbox names nor its own."""
    tokens = list(_tokens(source))
    declared = _declared(tokens)
    known = declared | SANDBOX_GLOBALS | set(given)
    found: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.kind != "name" or token.text in _KEYWORDS or token.text in known:
            continue
        before = tokens[index - 1].text if index else ""
        if before in (".", ":", "::", "goto") or (before == "<" and token.text in _ATTRIBS):
            continue
        found.setdefault(token.text, token.pos)
    return [UnknownGlobal(name, *_position(source, pos)) for name, pos in found.items()]


def _tokens(source: str) -> Iterator[_Token]:
    """Names, operators and literals; comments, strings and spaces are skipped."""
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:  # an unterminated string: the compiler has refused it already
            return
        kind = match.lastgroup or "op"
        end = match.end()
        if kind in ("long_comment", "long_string"):
            level = match.group("comment_level" if kind == "long_comment" else "string_level")
            close = source.find(f"]{level}]", end)
            end = len(source) if close < 0 else close + len(level) + 2
        elif kind in ("name", "op"):
            yield _Token(kind, match.group(), pos)
        pos = end


def _declared(tokens: list[_Token]) -> set[str]:
    """Every name the script gives itself, wherever it does so."""
    names: set[str] = set()
    for index, token in enumerate(tokens):
        text = token.text
        if text in ("local", "for"):
            names.update(_name_list(tokens, index + 1))
        elif text == "function":
            names.update(_function_names(tokens, index + 1))
        elif text == "::" and index + 1 < len(tokens):
            names.add(tokens[index + 1].text)
        elif token.kind == "name" and _assigned(tokens, index):
            names.update(_name_list(tokens, index))
    return names


def _name_list(tokens: list[_Token], start: int) -> list[str]:
    """``a, b <const>, c`` from ``start``: the names of a local, for or assignment list."""
    names, index = [], start
    while index < len(tokens) and tokens[index].kind == "name":
        if tokens[index].text == "function":  # local function f
            return _function_names(tokens, index + 1)
        names.append(tokens[index].text)
        index += 1
        if index + 2 < len(tokens) and tokens[index].text == "<":  # <const>, <close>
            index += 3
        if index >= len(tokens) or tokens[index].text != ",":
            break
        index += 1
    return names


def _function_names(tokens: list[_Token], start: int) -> list[str]:
    """The name (``function f``, ``function t.f``) and the parameters of a function."""
    names, index = [], start
    if index < len(tokens) and tokens[index].kind == "name":
        names.append(tokens[index].text)
        while index + 2 < len(tokens) and tokens[index + 1].text in (".", ":"):
            index += 2
        index += 1
    if index < len(tokens) and tokens[index].text == "(":
        names.extend(_name_list(tokens, index + 1))
    return names


def _assigned(tokens: list[_Token], index: int) -> bool:
    """Whether the name at ``index`` starts ``a, b = ...`` (or is a table key ``a = ...``)."""
    while index + 1 < len(tokens):
        after = tokens[index + 1].text
        if after == "=":
            return True
        if after != "," or index + 2 >= len(tokens) or tokens[index + 2].kind != "name":
            return False
        index += 2
    return False


def _position(source: str, pos: int) -> tuple[int, int]:
    return source.count("\n", 0, pos) + 1, pos - source.rfind("\n", 0, pos)
