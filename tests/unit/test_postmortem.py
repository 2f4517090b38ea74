"""`health`'s OOM post-mortem: the kills a recorded kernel log holds, joined to the containers the
engine lists, in the JSON document and the text report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from dockermem.clock import ManualClock
from dockermem.config import Settings
from dockermem.core.postmortem import read_post_mortem
from dockermem.render.documents import post_mortem_document
from dockermem.render.tables import post_mortem_lines
from tests.builders import START, summary
from tests.conftest import FIXTURES

KERNEL = FIXTURES / "kernel"
RECORDED_ID = (KERNEL / "docker-two.id").read_text().strip()


def settings_with_log(tmp_path: Path) -> Settings:
    log = tmp_path / "kmsg"
    log.write_bytes((KERNEL / "docker-two.kmsg").read_bytes())
    return Settings(kernel_log=str(log))


def text_of(lines: Sequence[object]) -> str:
    console = Console(width=200, record=True, color_system=None)
    for line in lines:
        console.print(line)
    return console.export_text()


def test_the_kills_of_a_listed_container_are_told_with_their_processes(tmp_path: Path) -> None:
    worker = summary("shop-worker-1", "worker", cid=RECORDED_ID)
    other = summary("shop-api-1", "api")
    # The log's clock: the first kill 10 s before the reader's "now".
    clock = ManualClock(START, monotonic_start=13000.0)
    found = read_post_mortem(settings_with_log(tmp_path), [other, worker], local_engine=True, clock=clock)
    assert found.notice is None
    assert [(k.container.name, k.kill.process.pid) for k in found.kills] == [
        ("shop-worker-1", 10259),
        ("shop-worker-1", 10260),
    ]
    document = json.loads(json.dumps(post_mortem_document(found)))
    assert document["notices"] == []
    first = document["kernel_oom_kills"][0]
    assert (first["service"], first["container_id"], first["process"]["name"]) == (
        "worker",
        RECORDED_ID,
        "memhog",
    )
    assert first["constraint"] == "cgroup" and first["cgroup_limit_bytes"] == 64 * 1024**2
    text = text_of(post_mortem_lines(found))
    assert "OOM kills in the kernel's log:" in text
    assert (
        "worker (shop-worker-1): process memhog (pid 10260, 43.4MiB RSS) at 64.0MiB of its 64.0MiB limit;"
        in text
    )


def test_kills_of_containers_not_listed_are_let_go(tmp_path: Path) -> None:
    found = read_post_mortem(settings_with_log(tmp_path), [summary("shop-api-1", "api")], local_engine=True)
    assert found.kills == () and post_mortem_lines(found) == []


def test_a_remote_engine_or_the_setting_off_reads_nothing(tmp_path: Path) -> None:
    worker = summary("shop-worker-1", "worker", cid=RECORDED_ID)
    assert read_post_mortem(settings_with_log(tmp_path), [worker], local_engine=False).kills == ()
    assert read_post_mortem(Settings(kernel_log=""), [worker], local_engine=True).kills == ()


def test_a_log_that_cannot_be_read_is_one_note(tmp_path: Path) -> None:
    found = read_post_mortem(Settings(kernel_log=str(tmp_path / "none")), [], local_engine=True)
    assert found.notice is not None and found.notice.startswith("the kernel log cannot be read")
    [line] = post_mortem_lines(found)
    assert text_of([line]).startswith("Note: the kernel log cannot be read")
    assert post_mortem_document(found)["notices"] == [found.notice]
