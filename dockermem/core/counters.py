"""Counters that persist between runs: what `cleanup` has done, reported by `stats`."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

COUNTERS_FILE = "counters.json"


@dataclass(frozen=True)
class CleanupCounters:
    """Totals over every cleanup run on this machine (for this user)."""

    cleanup_runs: int = 0
    containers_removed: int = 0
    networks_removed: int = 0
    volumes_removed: int = 0
    bytes_freed: int = 0

    def plus(self, other: CleanupCounters) -> CleanupCounters:
        return CleanupCounters(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def read_counters(state_dir: Path) -> CleanupCounters:
    """The persisted counters; zero when none were written yet or the file is unreadable."""
    try:
        document = json.loads((state_dir / COUNTERS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CleanupCounters()
    if not isinstance(document, dict):
        return CleanupCounters()
    counts = {
        f.name: value
        for f in fields(CleanupCounters)
        if isinstance(value := document.get(f.name), int) and not isinstance(value, bool) and value >= 0
    }
    return replace(CleanupCounters(), **counts)


def add_to_counters(state_dir: Path, done: CleanupCounters) -> CleanupCounters:
    """Add one cleanup's figures to the persisted totals (under a lock; written atomically)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / (COUNTERS_FILE + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        totals = read_counters(state_dir).plus(done)
        temporary = state_dir / (COUNTERS_FILE + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(totals), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, state_dir / COUNTERS_FILE)
    return totals
