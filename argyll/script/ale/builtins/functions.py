"""Functions of functions, strings and errors: ``apply``, ``partial``, ``comp``, ``juxt``,
``str``, ``raise`` and ``recover`` (``try`` is a special form built on the same idea)."""

from __future__ import annotations

from typing import Any

from argyll.errors import ScriptError, ScriptLimitError
from argyll.script.ale.budget import COPY_RATE, Run
from argyll.script.ale.builtins.registry import builtin
from argyll.script.ale.evaluator import invoke
from argyll.script.ale.seqs import display, items, write
from argyll.script.ale.values import AleRaised, Builtin, Symbol, truthy, type_name


@builtin("apply")
def _apply(run: Run, fn: Any, *args: Any) -> Any:
    """``(apply f a b [c d])`` calls ``(f a b c d)``."""
    if not args:
        raise ScriptError("apply: expected (apply f args... seq)")
    spread = list(items(args[-1]))
    run.charge(len(spread))  # the callee handles each argument
    return invoke(fn, run, (*args[:-1], *spread))


@builtin("partial")
def _partial(run: Run, fn: Any, *bound: Any) -> Any:
    return Builtin("partial", lambda run, *more: invoke(fn, run, (*bound, *more)))


@builtin("comp")
def _comp(run: Run, *fns: Any) -> Any:
    """Left to right: the first function gets the arguments, each next one the result."""

    def composed(run: Run, *args: Any) -> Any:
        if not fns:
            return args[0]
        value = invoke(fns[0], run, args)
        for fn in fns[1:]:
            value = invoke(fn, run, (value,))
        return value

    return Builtin("comp", composed)


@builtin("juxt")
def _juxt(run: Run, first: Any, *fns: Any) -> Any:
    return Builtin("juxt", lambda run, *args: [invoke(fn, run, args) for fn in (first, *fns)])


@builtin("identity")
def _identity(run: Run, value: Any) -> Any:
    return value


@builtin("constantly")
def _constantly(run: Run, value: Any) -> Any:
    return Builtin("constantly", lambda run, *args: value)


@builtin("no-op")
def _no_op(run: Run, *args: Any) -> None:
    return None


@builtin("not")
def _not(run: Run, value: Any) -> bool:
    return not truthy(value)


@builtin("str")
def _str(run: Run, *values: Any) -> str:
    """Pays for the result's length before joining: inputs can be long and repeated."""
    texts = [display(value, run) for value in values]
    run.charge(len(texts) + sum(map(len, texts)) // COPY_RATE)
    return "".join(texts)


@builtin("str!")
def _readable_str(run: Run, *values: Any) -> str:
    """The values as the reader would read them, separated by spaces."""
    parts: list[str] = []
    for index, value in enumerate(values):
        if index:
            parts.append(" ")
        write(value, parts, run)
    return "".join(parts)


@builtin("sym")
def _sym(run: Run, name: Any) -> Symbol:
    if type(name) is not str or not name:
        raise ScriptError(f"sym: expected a name, got {type_name(name)}")
    return Symbol(name)


@builtin("raise")
def _raise(run: Run, *values: Any) -> Any:
    message = _str(run, *values)
    raise AleRaised(message, message)


@builtin("recover")
def _recover(run: Run, body: Any, rescue: Any) -> Any:
    """Call ``body``; if it raises (anything but a limit), call ``rescue`` with the error."""
    depth = run.depth
    try:
        return invoke(body, run, ())
    except ScriptLimitError:
        raise
    except ScriptError as error:
        run.depth = depth
        return invoke(rescue, run, (error.value if type(error) is AleRaised else str(error),))
