"""Reading the fenced code blocks of a markdown file, and the markers that steer how they run.

A block is a fence (three or more backticks) with an info string naming its language.
HTML comments on the lines right above the opening fence are its markers:

- ``<!-- skip: reason -->``: the block is not run (the reason says why it cannot be here);
- ``<!-- notebook -->``: a python block is a notebook cell: ``await`` works at top level;
- ``<!-- expect-status: 404 409 -->``: the HTTP error statuses its curl calls answer, in order
  (without it, every curl answer must be below 400);
- ``<!-- exit: 1 -->``: the exit status a bash block ends with (default 0).

Ale examples (``ale`` blocks) are an expression followed by ``;; => JSON`` (its value) or
``;; error: text`` (part of the error it raises); a ``;; with {JSON}`` line before an
expression binds its inputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_FENCE = re.compile(r"^( {0,3})(`{3,})\s*([\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*([\w-]+)\s*:?\s*(.*?)\s*-->\s*$")
LANGUAGES = {"bash": "bash", "sh": "bash", "python": "python", "json": "json", "ale": "ale"}
LANGUAGES |= {"yaml": "yaml", "yml": "yaml"}


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: where it starts (1-based line of the fence), its language and text."""

    path: Path
    line: int
    language: str
    text: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def skipped(self) -> bool:
        return "skip" in self.markers


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file whose language the runner knows, in order."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{index + 1}: the code block is never closed")
        body = [_dedent(line, indent) for line in lines[index + 1 : end]]
        language = LANGUAGES.get(info.lower())
        if language is not None:
            text = "\n".join(body) + "\n"
            found.append(Block(path, index + 1, language, text, _markers(lines, index)))
        index = end + 1
    return found


def _markers(lines: list[str], fence: int) -> dict[str, str]:
    markers: dict[str, str] = {}
    above = fence - 1
    while above >= 0 and (match := _MARKER.match(lines[above])):
        markers[match.group(1)] = match.group(2)
        above -= 1
    return markers


@dataclass(frozen=True, slots=True)
class AleExample:
    """One Ale example: its source, the inputs bound, and the value or error text it states."""

    where: str
    source: str
    bindings: dict[str, Any]
    expected: Any = None
    error: str | None = None


_STATED = re.compile(r"^(?P<code>.*?)\s*;;\s*(?P<kind>=>|error:)\s*(?P<text>.+?)\s*$")
_WITH = re.compile(r"^\s*;;\s*with\s+(?P<json>\{.*\})\s*$")


def ale_examples(block: Block) -> list[AleExample]:
    """The examples of an ``ale`` block, each ended by the line that states its result."""
    examples: list[AleExample] = []
    source: list[str] = []
    bindings: dict[str, Any] = {}
    for offset, line in enumerate(block.text.splitlines(), start=block.line + 1):
        where = f"{block.path.name}:{offset}"
        if binding := _WITH.match(line):
            bindings = json.loads(binding.group("json"))
            continue
        stated = _STATED.match(line)
        if stated is None:
            source.append(line)
            continue
        source.append(stated.group("code"))
        text = _source(source, where)
        if stated.group("kind") == "=>":
            examples.append(AleExample(where, text, bindings, json.loads(stated.group("text"))))
        else:
            examples.append(AleExample(where, text, bindings, error=stated.group("text")))
        source, bindings = [], {}
    if "\n".join(source).strip():
        raise ValueError(f"{block.where}: an Ale example states no result (;; => or ;; error:)")
    return examples


def _source(lines: list[str], where: str) -> str:
    text = "\n".join(lines).strip()
    if not text:
        raise ValueError(f"{where}: a stated result with no expression before it")
    return text


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line
