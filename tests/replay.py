"""A docker that answers from recorded outputs: the runner's place taken by a script of answers,
so that the docker layer parses real outputs while a test drives the core's decisions in
milliseconds. A call the script does not answer fails the test, naming the call."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio

from dockermem.docker.client import DockerClient
from dockermem.docker.runner import CommandResult, DockerRunner, LineStream, RunnerLimits, failure_error

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Answer:
    """What docker prints for the calls whose arguments match `pattern` (a regular expression
    searched in the arguments joined by spaces). A stream gives `lines`, then stays open when
    `hold` (as `docker events` does) or ends with `returncode`."""

    pattern: str
    stdout: str = ""
    stderr: str = ""
    returncode: int = 0
    lines: Sequence[str] = ()
    hold: bool = False
    times: int | None = None  # answers this many calls, then the next answer that matches does
    used: int = field(default=0, init=False)

    def matches(self, words: str) -> bool:
        return (self.times is None or self.used < self.times) and re.search(self.pattern, words) is not None

    @classmethod
    def recorded(cls, pattern: str, fixture: str, **options: Any) -> Answer:
        """An answer whose output is a recorded file under tests/fixtures (a stream: its lines)."""
        text = (FIXTURES / fixture).read_text(encoding="utf-8", errors="replace")
        if options.pop("stream", False):
            return cls(pattern, lines=text.splitlines(), **options)
        return cls(pattern, stdout=text, **options)


def engine_answers(name: str = "engine-20.10") -> list[Answer]:
    """`docker info` and `docker version` of a recorded engine (`engine-20.10`, `podman-4.3`)."""
    return [
        Answer.recorded(r"^info ", f"info/{name}.json"),
        Answer.recorded(r"^version ", f"version/{name}.json"),
    ]


class ReplayStream(LineStream):
    """A stream's answer: its lines, then its end (or none, when it holds)."""

    def __init__(self, argv: list[str], answer: Answer) -> None:
        super().__init__(argv, cast(Any, None))  # no process: the answer is the output
        self.answer = answer
        self.stderr = answer.stderr

    async def lines(self) -> AsyncIterator[str]:
        for line in self.answer.lines:
            yield line
            await anyio.lowlevel.checkpoint()
        if self.answer.hold:
            await anyio.sleep_forever()

    async def wait(self) -> int:
        return self.answer.returncode


class ReplayRunner(DockerRunner):
    """Answers each docker call from the script, first match first; keeps every call's arguments."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__(RunnerLimits(compose_direct=False))
        self.answers = list(answers)
        self.calls: list[str] = []

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["docker", *(["--context", self.context] if self.context else []), *args]

    def answer(self, args: Sequence[str]) -> Answer:
        words = " ".join(args)
        self.calls.append(words)
        for answer in self.answers:
            if answer.matches(words):
                answer.used += 1
                return answer
        raise AssertionError(f"no recorded answer for `docker {words}`")

    async def run(
        self,
        args: Sequence[str],
        *,
        time_limit: float | None = None,
        retries: int | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        grace_seconds: float = 0.0,
    ) -> CommandResult:
        answer = self.answer(args)
        await anyio.lowlevel.checkpoint()
        argv = self.argv(args)
        if check and answer.returncode != 0:
            raise failure_error(argv, answer.returncode, answer.stderr, answer.stdout)
        return CommandResult(tuple(argv), answer.returncode, answer.stdout, answer.stderr)

    @asynccontextmanager
    async def stream(self, args: Sequence[str]) -> AsyncIterator[LineStream]:
        yield ReplayStream(self.argv(args), self.answer(args))


def replayed(*answers: Answer) -> tuple[DockerClient, ReplayRunner]:
    """A client whose calls the answers take."""
    runner = ReplayRunner(*answers)
    return DockerClient(runner), runner
