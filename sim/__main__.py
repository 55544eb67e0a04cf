"""``python -m sim`` and the ``svcsim`` script: :func:`sim.cli.main` behind a signal trap.

The trap is set before :mod:`sim.cli` is imported, which loads pandas, matplotlib and SimPy
and takes seconds on a busy machine: Ctrl-C or SIGTERM in that time also ends in one line on
stderr and exit code 130 or 143 (:mod:`sim.interrupts`).
"""

import sys

from sim.interrupts import SignalTrap, exit_code, interrupt_message, interrupt_signal


def main() -> int:
    with SignalTrap() as trap:
        try:
            from sim.cli import main as run_command  # noqa: PLC0415 (after the trap, on purpose)
        except BaseException as stop:  # re-raised below unless a stop signal explains it
            signum = interrupt_signal(stop)
            if signum is None:
                raise
            trap.armed = False
            print(interrupt_message(signum, "nothing written"), file=sys.stderr)
            return exit_code(signum)
        return run_command()


if __name__ == "__main__":  # importing it (pytest --doctest-modules does) runs nothing
    sys.exit(main())
