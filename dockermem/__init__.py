"""dockermem: memory safety for docker compose test stacks.

The Python API is loaded on first use, so that the command line starts fast:
`dockermem.stack(...)` (async), `dockermem.sync.stack(...)`, `dockermem.Stack`, and the
errors `dockermem.PreflightFailedError` and `dockermem.StackStartError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real API; at run time it is loaded on first use
    from dockermem import sync as sync
    from dockermem.api import Stack as Stack
    from dockermem.api import stack as stack
    from dockermem.errors import PreflightFailedError as PreflightFailedError
    from dockermem.errors import StackStartError as StackStartError

__version__ = "0.1.0"

_API = ("stack", "Stack", "PreflightFailedError", "StackStartError")


def __getattr__(name: str) -> Any:
    if name in _API:
        from dockermem import api

        return getattr(api, name)
    if name == "sync":
        import dockermem.sync

        return dockermem.sync
    raise AttributeError(f"module 'dockermem' has no attribute {name!r}")
