"""Running the CLI in a subprocess as a user would in a terminal."""

from __future__ import annotations

import signal


def as_in_a_terminal() -> None:
    """`preexec_fn` for a child that a test stops with Ctrl-C (SIGINT): a suite started in the
    background (`./run.sh test &`) ignores SIGINT, its children inherit that, and Python then
    never raises KeyboardInterrupt in them. A terminal's foreground process has the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
