"""`dockermem fit`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dockermem.cli.common import JsonOption, ProjectOption, load_settings_or_exit, run_async
from dockermem.cli.output import print_json, print_renderable
from dockermem.cli.preflight import ComposeProfileOption, EnvFileOption, FileOption
from dockermem.errors import ExitCode

if TYPE_CHECKING:
    from dockermem.core.fit import WorkerSize


def _size(value: str) -> str:
    """SIZE (binary units) or `auto`, checked before anything runs."""
    if value != "auto":
        _worker_size(value)
    return value


def _worker_size(value: str) -> WorkerSize | None:
    """The size of one worker as given (None for `auto`: the recorded one)."""
    from dockermem.core.fit import WorkerSize
    from dockermem.docker.parse import parse_size
    from dockermem.errors import ParseError

    if value == "auto":
        return None
    try:
        size = parse_size(value)
    except ParseError:
        raise typer.BadParameter(f"{value!r} is not a size (for example 512m, 1g, 1.5GiB) or auto") from None
    if size <= 0:
        raise typer.BadParameter(f"{value!r}: a worker must need more than 0 bytes")
    return WorkerSize(size, "given")


def fit(
    per_worker: Annotated[
        str,
        typer.Option(
            "--per-worker",
            metavar="SIZE|auto",
            help="Memory one test worker needs: 512m, 1g, 1.5GiB (binary units), or auto: the peak the "
            "pytest plugin recorded of the suite's workers, plus 30 %.",
            callback=_size,
        ),
    ],
    file: FileOption = None,
    project: ProjectOption = None,
    profile: ComposeProfileOption = None,
    env_file: EnvFileOption = None,
    json: JsonOption = False,
) -> None:
    """How many parallel test workers (for example `pytest -n`) fit beside the stack:
    (preflight budget − the stack's need) // the size of one worker.

    Exits 1 when not even one fits, 2 on bad input.
    """
    from dockermem.core.client import client_for
    from dockermem.core.fit import fit_workers

    size = _worker_size(per_worker)
    settings = load_settings_or_exit()
    client = client_for(settings)
    result = run_async(
        lambda: fit_workers(client, settings, file or [], project, size, compose_profiles=profile or (),
                            env_files=env_file or ())
    )  # fmt: skip
    if json:
        from dockermem.render.fit import fit_document

        print_json(fit_document(result))
    else:
        from dockermem.render.fit import build_fit_report

        print_renderable(build_fit_report(result))
    if result.workers < 1:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
