"""dockermem: memory safety for docker compose test stacks."""

__version__ = "0.1.0"
