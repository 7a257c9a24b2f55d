"""``python -m argyll``: the same as the ``argyll`` command."""

from argyll.cli import main

raise SystemExit(main())
