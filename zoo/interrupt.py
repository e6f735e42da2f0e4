"""Ctrl-C during training: the loop finishes the step it is in, saves its state and stops, so a resumed run
loses nothing. Stopping inside a step could save weights half updated by the optimizer beside a step count
that has not moved, and the resumed run would no longer be the run never interrupted.

    with interrupt.deferred() as asked:
        for batch in batches:
            ...one optimizer step...
            if asked():
                save(); raise interrupt.Interrupted("...")

A second Ctrl-C stops at once, as Python does by default. Only the main thread of a single process defers
(signal handlers belong to the main thread; under torchrun each process would stop at a different step), and
only where Ctrl-C is not ignored (a job a shell started with &).

Elsewhere a run stops at once, and says what it kept (keep, stop_line: a saved state, the checkpoint); while a
script imports, one line (quiet_while_starting); across a folder swap, after it (held).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_kept: list[str] = []  # what a Ctrl-C outside the loop's safe points leaves behind (loading, scoring, under torchrun)


class Interrupted(KeyboardInterrupt):
    """Raised by the training loop at a safe point after Ctrl-C; its message says what was saved."""


@contextlib.contextmanager
def held():
    """Ctrl-C held off across a few lines that must not be cut in two (a checkpoint folder swapped in), then
    honoured; a second press still stops at once."""
    with deferred() as asked:
        yield
    if asked():
        raise KeyboardInterrupt


def keep(what: str | None) -> None:
    """Record what is on disk now and how to go on from it (None: nothing), for stop_line."""
    _kept[:] = [what] if what else []


def add(more: str) -> None:
    """One more thing to say after what is kept (how to push the checkpoint just saved)."""
    if _kept:
        _kept[0] += f"; {more}"


def stop_line() -> str:
    """The line a Ctrl-C at any other moment prints: it says what the run kept, where it kept anything."""
    return "stopped by Ctrl-C" + (f"; {_kept[0]}" if _kept else "")


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # where signal handlers are set


def ignore_from_now() -> None:
    """A program that is stopping: a further Ctrl-C while it exits would only print a traceback."""
    if _main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def deferred(enabled: bool = True):
    """-> a function telling whether Ctrl-C was pressed since the block began."""
    if not enabled or not _main_thread() or \
            signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):  # ignored (a job started with &), or a
        yield lambda: False                                             # handler set outside Python: left alone
        return
    pressed = []

    def handler(signum, frame):
        if pressed:  # the second press: the user wants out now
            raise KeyboardInterrupt
        pressed.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_quietly(signum, frame):
    if os.environ.get("RANK", "0") == "0":  # under torchrun every rank gets Ctrl-C; one says so
        print("stopped by Ctrl-C", file=sys.stderr)
    raise SystemExit(130)


def quiet_while_starting() -> None:
    """A training script's first call, before its imports (torch and the data libraries, 2-4 s): Ctrl-C there
    exits with one line and 130 rather than an import's 40-line traceback. started() (cli.script, as main
    begins) gives Ctrl-C back to Python. Left alone where Ctrl-C is ignored or handled by someone else."""
    if _main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_quietly)


def started() -> None:
    """Ctrl-C back to Python's own handler once a script's main begins (after quiet_while_starting)."""
    if _main_thread() and signal.getsignal(signal.SIGINT) is _exit_quietly:
        signal.signal(signal.SIGINT, signal.default_int_handler)
