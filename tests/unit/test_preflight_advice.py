"""The preflight's advice, worded for one and for many."""

from __future__ import annotations

from dockermem.config import Settings
from dockermem.core.preflight import CountCheck, MemoryBudget, ProjectUsage, recommendations

MIB = 1024**2
GIB = 1024**3


def test_one_and_many_are_worded_apart() -> None:
    budget = MemoryBudget(host_available_bytes=2 * GIB, engine_total_bytes=16 * GIB, engine_in_use_bytes=None,
                          margin_bytes=512 * MIB,
                          cap_bytes=8 * GIB)  # fmt: skip
    advice = recommendations(
        Settings(), 4 * GIB, budget, [],
        [CountCheck("containers", 1, 30, 20), CountCheck("volumes", 12, 1, 10)],
        [ProjectUsage("old", 1, 100 * MIB), ProjectUsage("older", 3, 200 * MIB)],
    )  # fmt: skip
    assert "Stopping project 'old' (1 running container) would free about 100MiB." in advice
    assert "Stopping project 'older' (3 running containers) would free about 200MiB." in advice
    assert any(line.startswith("Containers: 1 exists and the stack adds 30") for line in advice)
    assert any(line.startswith("Volumes: 12 exist and the stack adds 1") for line in advice)
