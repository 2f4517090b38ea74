"""The kernel's own word on memory: the OOM killer's log (read-only, parsed at the edge)."""
