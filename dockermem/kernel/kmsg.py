"""Following the kernel log (/dev/kmsg) from the moment a session starts: each OOM kill logged
since, once, never one from before.

Read as root (or with `kernel.dmesg_restrict=0`) on the machine that runs the containers. Where
it cannot be read (another user, a remote engine's machine, Docker Desktop's VM) it says why
once, and the session goes on with what docker and the cgroup files tell.

/dev/kmsg gives one record per read and never blocks here (O_NONBLOCK): a session reads what
came since its last tick, at every tick, so no thread waits on it and nothing is left behind.
"""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from dockermem.clock import Clock, current_clock
from dockermem.kernel.oom_log import KernelOomKill, OomLogParser, parse_kmsg_record

KMSG = Path("/dev/kmsg")
READ_SIZE = 8192  # a record is at most 1 KiB of text, and its continuation lines
# Records read at most per call: a log flooding faster than a session ticks is read in turns.
MAX_RECORDS_PER_READ = 20_000


class KernelLog:
    """The kernel log's OOM kills, from the moment `open` is called. Use as a context manager,
    or `open()` and `close()`. `notice` says why it cannot be read, when it cannot."""

    def __init__(self, path: Path = KMSG, clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or current_clock()
        self.notice: str | None = None
        self._fd: int | None = None
        self._partial = b""
        self._parser = OomLogParser(os.sysconf("SC_PAGE_SIZE"))

    def open(self, *, from_start: bool = False) -> KernelLog:
        """Start at the log's end (what it holds already is not news), or at the oldest record
        the kernel still keeps (`from_start`: a post-mortem of kills already logged)."""
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            if not from_start:
                os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as error:
            self.close()
            self.notice = _why(self.path, error)
        return self

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> KernelLog:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def readable(self) -> bool:
        return self._fd is not None

    def read_kills(self, *, to_the_end: bool = False) -> list[KernelOomKill]:
        """The OOM kills logged since the last call, each with its wall time. A session reads
        at most MAX_RECORDS_PER_READ records a call (the rest at its next tick); `to_the_end`
        reads all there is, and the last line of a recorded log that has no newline."""
        kills: list[KernelOomKill] = []
        chunks = self._read_available(None if to_the_end else MAX_RECORDS_PER_READ)
        if to_the_end:
            chunks.append(b"\n")  # the end: a recorded log's last line, whole
        for data in chunks:
            # /dev/kmsg gives whole records; a file (a recorded log) may be cut mid-line.
            data, self._partial = _whole_lines(self._partial + data)
            for raw in _records(data):
                if self._parser.can_skip(raw):
                    continue
                record = parse_kmsg_record(raw)
                if record is not None and (kill := self._parser.feed(record)) is not None:
                    kills.append(self._dated(kill))
        return kills

    def _read_available(self, limit: int | None) -> list[bytes]:
        chunks: list[bytes] = []
        while self._fd is not None and (limit is None or len(chunks) < limit):
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno == errno.EPIPE:
                    # Records were overwritten before they were read: go on from the oldest
                    # left, with no half-read kill joined to lines of another.
                    self._parser.reset()
                    continue
                self.close()
                self.notice = _why(self.path, error)
                break
            if not data:
                break
            chunks.append(data)
        return chunks

    def _dated(self, kill: KernelOomKill) -> KernelOomKill:
        # The record's time is the kernel's clock since boot, which time.monotonic() reads too.
        ago = max(0.0, self.clock.monotonic() - kill.at_seconds)
        return replace(kill, at=self.clock.now() - timedelta(seconds=ago))


def logged_kills(path: Path = KMSG, clock: Clock | None = None) -> tuple[list[KernelOomKill], str | None]:
    """Every OOM kill the kernel's log still holds (its ring buffer: since boot on a quiet
    machine), read once; and why it could not be read, when it could not."""
    log = KernelLog(path, clock).open(from_start=True)
    try:
        return log.read_kills(to_the_end=True), log.notice
    finally:
        log.close()


def _whole_lines(data: bytes) -> tuple[bytes, bytes]:
    """The whole lines of `data`, and what follows the last of them."""
    end = data.rfind(b"\n") + 1
    return data[:end], data[end:]


def _records(data: bytes) -> list[bytes]:
    """The records in what one read gave: one from /dev/kmsg, several from a recorded file
    (a record's continuation lines start with a space)."""
    records: list[bytes] = []
    for line in data.splitlines(keepends=True):
        if line.startswith(b" ") and records:
            records[-1] += line
        else:
            records.append(line)
    return records


def _why(path: Path, error: OSError) -> str:
    reason = error.strerror or str(error)
    hint = ""
    if error.errno in (errno.EACCES, errno.EPERM):
        hint = " (run as root, or set kernel.dmesg_restrict=0)"
    return (
        f"the kernel log cannot be read ({path}: {reason}){hint}: "
        "OOM kills are seen by the engine's events and the cgroup counters only"
    )
