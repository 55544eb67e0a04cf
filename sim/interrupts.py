"""SIGINT and SIGTERM for the ``svcsim`` command: raised as :class:`Interrupted`, and counted.

A command stops on either signal with exit code 128 + its number (130 for Ctrl-C, 143 for
SIGTERM). Python's own handling is not enough: SIGTERM kills the process where it stands,
and the KeyboardInterrupt of Ctrl-C can be lost on the way, because C code that looks up an
attribute or an ``isinstance`` hook (``abc``, pandas, imports) clears whatever exception
comes up, and SimPy turns one raised inside a process into that process's failure. So every
signal is also counted, and the command checks the count at its milestones
(:func:`stop_if_signalled`): a lost interrupt still stops it before it saves anything.

This module imports nothing heavy, so the ``svcsim`` script traps the signals before pandas,
matplotlib and SimPy load (which takes seconds on a busy machine).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

__all__ = [
    "STOP_SIGNALS",
    "Interrupted",
    "SignalTrap",
    "exit_code",
    "interrupt_message",
    "interrupt_signal",
    "signal_received",
    "stop_if_signalled",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[int] = []  # stop signals since the outermost trap was set, even lost ones


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, as KeyboardInterrupt is, so that no
    ``except Exception`` on the way stops it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class SignalTrap:
    """While in use, SIGINT and SIGTERM raise :class:`Interrupted` and are counted; once
    ``armed`` is false they are only counted (so a message about the first can get out).

    Traps nest: the outer one (the script, set before the imports) keeps the count, the
    inner one (:func:`sim.cli.main`) sees it. Only the main thread can have signal handlers;
    elsewhere the trap does nothing.
    """

    _depth = 0

    def __init__(self) -> None:
        self.armed = True
        self._active = False
        self._previous: dict[int, Any] = {}
        self._previous_hook = sys.unraisablehook

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        _received.append(signum)
        if self.armed:
            raise Interrupted(signum)

    def _unraisable(self, unraisable: Any) -> None:
        """Python prints an exception it cannot raise (in a ``__del__``, a weakref callback)
        as ``Exception ignored in ...``; an interrupt lost so is counted, and reported once
        by the command, so it is not printed as well."""
        if not isinstance(unraisable.exc_value, Interrupted | KeyboardInterrupt):
            self._previous_hook(unraisable)

    def __enter__(self) -> SignalTrap:
        if threading.current_thread() is not threading.main_thread():
            return self
        if SignalTrap._depth == 0:
            _received.clear()
        SignalTrap._depth += 1
        self._active = True
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is not None:  # None: set outside Python, cannot be put back
                self._previous[signum] = signal.signal(signum, self._stop)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.armed = False
        if not self._active:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = self._previous_hook
        self._previous, self._active = {}, False
        SignalTrap._depth -= 1


def signal_received() -> int | None:
    """The first stop signal since the outermost trap was set, or None."""
    return _received[0] if _received else None


def stop_if_signalled() -> None:
    """Raise :class:`Interrupted` for a stop signal that came and was lost on the way."""
    if _received:
        raise Interrupted(_received[0])


def interrupt_signal(stop: BaseException) -> int | None:
    """The signal that ``stop`` is the consequence of: its own for an Interrupted or a
    KeyboardInterrupt; for any other exception, the signal counted before it, if any (a
    library cut off mid-way may fail in its own way), else None: a bug, not an interrupt."""
    if isinstance(stop, Interrupted):
        return stop.signum
    if isinstance(stop, KeyboardInterrupt):
        return int(signal.SIGINT)
    return signal_received()


def interrupt_message(signum: int, state: str) -> str:
    """The one line on stderr: ``error: interrupted by SIGINT; <what was written>``."""
    return f"error: interrupted by {signal.Signals(signum).name}; {state}"


def exit_code(signum: int) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + signum
