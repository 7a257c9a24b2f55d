"""What real Ale has that step scripts leave out, each with the reason a user is told.

A script is a pure function of its inputs, run again whenever the engine needs its
value: it may not read the clock, do input or output, start concurrent work, or
compile code at run time. Registration refuses a script naming one of these (unless
an input of that name shadows it), and the reason is the one given here.
"""

from __future__ import annotations

_NON_DETERMINISTIC = "non-deterministic (a script must give the same value for the same inputs)"
_IO = "performs input or output (scripts are pure)"
_CONCURRENCY = "starts concurrent work (scripts run to completion on their own)"
_META = "compiles or expands code at run time (scripts are compiled once, at registration)"
_REPL = "belongs to Ale's interactive shell"
_NAMESPACE = "works with namespaces (a script is one self-contained program)"
_BYTES = "works with byte sequences, which JSON inputs and outputs do not carry"
_PROMISE = "makes promises, which only concurrent or effectful code needs"

EXCLUDED: dict[str, str] = {
    **dict.fromkeys(["current-time", "time"], _NON_DETERMINISTIC),
    **dict.fromkeys(
        ["print", "println", "pr", "prn", "read", "with-open", "*in*", "*out*", "*err*", "*env*"],
        _IO,
    ),
    **dict.fromkeys(
        ["chan", "go", "go!", "go-with-monitor", "spawn", "future", "generate", "emit"],
        _CONCURRENCY,
    ),
    **dict.fromkeys(
        [
            "eval",
            "macroexpand",
            "macroexpand-1",
            "define-macro",
            "macro",
            "macro?",
            "special",
            "special?",
            "syntax-quote",
            "gensym",
            "asm",
        ],
        _META,
    ),
    **dict.fromkeys(["cls", "doc", "help", "quit", "use"], _REPL),
    **dict.fromkeys(["define-namespace", "import", "declared", "private"], _NAMESPACE),
    **dict.fromkeys(["bytes", "bytes?", "!bytes?"], _BYTES),
    **dict.fromkeys(
        [
            "delay",
            "force",
            "force!",
            "delay-force",
            "lazy",
            "promise?",
            "!promise?",
            "resolved?",
            "!resolved?",
            "promise-forced?",
            "!promise-forced?",
        ],
        _PROMISE,
    ),
}
