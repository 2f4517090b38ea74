"""The JSON Schemas (draft 2020-12) of the `--json` documents, shipped as files beside this
module: one per command's document, one per `watch --json` line type, and one for the error
object a command prints under `--json` when it fails before its document."""

from __future__ import annotations

from importlib.resources import files


class UnknownSchemaError(LookupError):
    """No schema of that name is shipped."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no schema named {name!r} (one of: {', '.join(schema_names())})")


def schema_names() -> tuple[str, ...]:
    """Every shipped schema's name, sorted (`health`, `watch-event`, ...)."""
    return tuple(
        sorted(
            entry.name.removesuffix(".json")
            for entry in files(__name__).iterdir()
            if entry.name.endswith(".json")
        )
    )


def schema_text(name: str) -> str:
    """The schema named `name`, as the file holds it (JSON text)."""
    if name not in schema_names():
        raise UnknownSchemaError(name)
    return (files(__name__) / f"{name}.json").read_text(encoding="utf-8")
