"""Process-table checks that survive PID reuse and processes that end while they are looked at."""

from __future__ import annotations

import psutil

Seen = tuple[int, float]  # PID and start time: a PID alone may be reused by another process


def descendants(pid: int, containing: str = "") -> list[Seen]:
    """The processes below `pid` (whose command line holds `containing`), as seen now."""
    found: list[Seen] = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return found
    for child in children:
        try:
            if containing in " ".join(child.cmdline()):
                found.append((child.pid, child.create_time()))
        except psutil.Error:
            continue  # ended (or became a zombie) while it was looked at
    return found


def still_running(seen: list[Seen]) -> list[int]:
    """Those of the processes seen earlier that still run (not zombies, not a reused PID)."""
    alive = []
    for pid, started in seen:
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            continue
    return alive


def running_with(pids: list[int], containing: str) -> list[int]:
    """Of some PIDs, those that run a command line holding `containing` (a reused PID does not)."""
    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and containing in " ".join(process.cmdline()):
                alive.append(pid)
        except psutil.Error:
            continue
    return alive
