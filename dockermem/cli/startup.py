"""The `dockermem` script's entry point: start-up without the cycle collector.

Start-up makes the objects that live as long as the process: modules, classes, functions,
typer's and click's option tables. The cycle collector, run as they are made, sweeps them
again and again for nothing (some 25 ms of a `stats`). So the entry points turn it off before
anything is imported, and `collector_on()` turns it back on, with all start-up made left out
of its sweeps for good (`gc.freeze`), once a command begins its work: where it runs its event
loop (`cli.common.run_async`), or where it starts without one (`report`).
"""

from __future__ import annotations

import gc


def main() -> None:
    """`dockermem`: the command line, its start-up made with the cycle collector off."""
    collector_off()
    from dockermem.cli.app import main as run

    run()


def collector_off() -> None:
    gc.disable()


def collector_on() -> None:
    """The cycle collector on again, what start-up made frozen out of its sweeps; nothing when
    it was never turned off (dockermem run inside another program: a test, the API)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
