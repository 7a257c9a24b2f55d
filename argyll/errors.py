"""The error tree: everything argyll raises derives from ArgyllError.

ArgyllError
├── ValidationError          bad input; carries every (field, reason) problem
│   ├── UnknownGoalsError    goals that name no registered step
│   └── MissingInputsError   required inputs nothing produces and init lacks
├── NotFoundError            an id that names nothing
├── ConflictError            the request clashes with what exists
│   └── VersionConflict      an optimistic append lost the race
├── BodyTooLargeError        a request body over the server's limit
├── UnauthorizedError        no token, or one the server does not know
├── ForbiddenError           a known token without the scope the call needs
├── TransitionError          an event makes a status move the transition tables forbid
├── ScriptError              a script failed while running
│   ├── ScriptSyntaxError    a script does not compile (line, column)
│   └── ScriptLimitError     a script went over its step/instruction/memory budget
└── StoreError               the event store failed or is unreachable
    └── StartingError        the engine is still reading its store back (a restart)

``argyll.problems`` maps each of them to the problem+json reply that stands for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence


class ArgyllError(Exception):
    """Base for everything argyll raises."""


class ValidationError(ArgyllError):
    """Bad input; ``problems`` lists every (field, reason) found, not just the first."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in self.problems))


class UnknownGoalsError(ValidationError):
    def __init__(self, goals: Sequence[str]) -> None:
        self.goals = list(goals)
        super().__init__([("goals", f"unknown step {goal!r}") for goal in self.goals])


class MissingInputsError(ValidationError):
    def __init__(self, inputs: Sequence[str]) -> None:
        self.inputs = list(inputs)
        super().__init__([("init", "missing required inputs: " + ", ".join(self.inputs))])


class NotFoundError(ArgyllError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind, self.ident = kind, ident


class ConflictError(ArgyllError):
    """The request clashes with what already exists."""


class VersionConflict(ConflictError):
    def __init__(self, aggregate: str, expected: int, actual: int) -> None:
        super().__init__(f"{aggregate}: expected version {expected}, found {actual}")
        self.aggregate, self.expected, self.actual = aggregate, expected, actual


class BodyTooLargeError(ArgyllError):
    """A request body over the server's limit (refused before the body is read)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request body is {size} bytes, over the limit of {limit} bytes")
        self.size, self.limit = size, limit


class UnauthorizedError(ArgyllError):
    """No token, or an unknown one: the message says so and nothing more."""

    def __init__(self, message: str = "this call needs a valid token") -> None:
        super().__init__(message)


class ForbiddenError(ArgyllError):
    """A known token whose scopes do not cover the call; ``scope`` is what it needs."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"this call needs a token with the {scope!r} scope")
        self.scope = scope


class TransitionError(ArgyllError):
    """An event moves a status where argyll.transitions forbids: a bug or a corrupt history.

    ``source`` is ``None`` for an entity not yet created.
    """

    def __init__(self, aggregate: str, entity: str, source: str | None, target: str) -> None:
        moves = f"from {json.dumps(source)} to {json.dumps(target)}"
        super().__init__(f"{aggregate}: {entity} cannot move {moves}")
        self.aggregate, self.entity, self.source, self.target = aggregate, entity, source, target


class ScriptError(ArgyllError):
    """A script failed while running (bad types, division by zero, error raised...)."""


class ScriptSyntaxError(ScriptError):
    def __init__(self, message: str, line: int, column: int | None = None) -> None:
        where = f"line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"{where}: {message}")
        self.reason, self.line, self.column = message, line, column


class ScriptLimitError(ScriptError):
    def __init__(self, limit: str, value: int) -> None:
        super().__init__(f"script exceeded its {limit} limit ({value})")
        self.limit, self.value = limit, value


class StoreError(ArgyllError):
    """The event store failed or could not be reached."""


class StartingError(StoreError):
    """The engine is still starting (reading its running flows back): ask again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the engine is starting; try again in {retry_after} s")
        self.retry_after = retry_after
