"""The keys of `watch`'s live view: the terminal in cbreak mode while it runs, and its bytes read
as key presses."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio

from dockermem.render.watch_state import Key, Keypress

# What terminals send for the keys that are not text (xterm's, and the application-mode forms).
ESCAPE_SEQUENCES: dict[str, Key] = {
    "\x1b[A": Key.UP, "\x1bOA": Key.UP, "\x1b[B": Key.DOWN, "\x1bOB": Key.DOWN,
    "\x1b[5~": Key.PAGE_UP, "\x1b[6~": Key.PAGE_DOWN,
    "\x1b[H": Key.HOME, "\x1bOH": Key.HOME, "\x1b[1~": Key.HOME,
    "\x1b[F": Key.END, "\x1bOF": Key.END, "\x1b[4~": Key.END,
}  # fmt: skip
SINGLE_KEYS: dict[str, Key] = {"\r": Key.ENTER, "\n": Key.ENTER, "\x7f": Key.BACKSPACE, "\x08": Key.BACKSPACE}


def decode_keys(text: str) -> list[Keypress]:
    """The key presses in what the terminal sent at once. An escape sequence it does not know is
    dropped whole; an escape alone is the Esc key."""
    keys: list[Keypress] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\x1b":
            sequence = next((s for s in ESCAPE_SEQUENCES if text.startswith(s, position)), None)
            if sequence is not None:
                keys.append(ESCAPE_SEQUENCES[sequence])
                position += len(sequence)
                continue
            if text.startswith(("\x1b[", "\x1bO"), position):
                position = _end_of_sequence(text, position + 2)
                continue
            keys.append(Key.ESCAPE)
        elif char in SINGLE_KEYS:
            keys.append(SINGLE_KEYS[char])
        elif char.isprintable():
            keys.append(char)
        position += 1
    return keys


def _end_of_sequence(text: str, position: int) -> int:
    """Past a control sequence's final byte (a letter or `~`)."""
    while position < len(text) and not (text[position].isalpha() or text[position] == "~"):
        position += 1
    return position + 1


def keys_available() -> bool:
    """Whether the view can take keys: stdin is a terminal of this machine's (termios) and this
    process is in its foreground (in the background, setting the terminal would stop it)."""
    if sys.stdin is None or not sys.stdin.isatty():
        return False
    try:
        import termios  # noqa: F401 (only to know it exists: not on Windows)
    except ImportError:
        return False
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


@contextmanager
def cbreak_terminal() -> Iterator[None]:
    """Keys come one at a time and are not echoed while the block runs (Ctrl-C still interrupts);
    the terminal is set back as it was however the block ends."""
    import signal
    import termios
    import tty

    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)

    def again(signum: int, frame: object) -> None:  # back from Ctrl-Z: the shell restored line mode
        tty.setcbreak(descriptor)

    previous = signal.signal(signal.SIGCONT, again)
    try:
        tty.setcbreak(descriptor)
        yield
    finally:
        signal.signal(signal.SIGCONT, previous)
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


async def key_presses() -> AsyncIterator[list[Keypress]]:
    """The keys pressed on stdin, a batch at a time, until the task is cancelled."""
    descriptor = sys.stdin.fileno()
    while True:
        await anyio.wait_readable(descriptor)
        data = os.read(descriptor, 1024)
        if not data:
            return  # the terminal is gone
        yield decode_keys(data.decode("utf-8", errors="ignore"))
