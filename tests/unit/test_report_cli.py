"""`dockermem report` on a history written here (no docker needed): JSON, text, HTML, bad --since,
an unreadable database, and imports kept out of start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dockermem.cli.report import report
from dockermem.clock import ManualClock, using_clock
from dockermem.config import load_settings
from dockermem.core.events import Frame, WatchedContainer
from dockermem.core.history import HistoryStore, history_path
from dockermem.core.host import HostMemory
from dockermem.core.thresholds import ThresholdLevel

MIB = 1024**2
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[ManualClock]:
    """`report` measures `--since` back from this clock, not from the machine's."""
    with using_clock(ManualClock(NOW)) as clock:
        yield clock


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(report)
    return app


def watched(service: str, usage_mib: int, limit_mib: int | None, project: str = "shop") -> WatchedContainer:
    usage = usage_mib * MIB
    return WatchedContainer(
        id=f"{service}-id", name=f"{project}-{service}-1", project=project, service=service,
        memory_usage_bytes=usage, memory_limit_bytes=None if limit_mib is None else limit_mib * MIB,
        memory_percent=None, cpu_percent=None, level=ThresholdLevel.SAFE, engine="local",
        trend_mib_per_minute=None, seconds_to_limit=None, leaking=False, recent_usage=(usage,),
        peak_bytes=usage, oom_kills=0,
    )  # fmt: skip


@pytest.fixture
def history() -> Path:
    """Ten minutes of a watch an hour ago, in the state directory of the test's settings."""
    path = history_path(load_settings().state_path)
    start = NOW - timedelta(hours=1)
    with HistoryStore(path) as store:
        run = store.start_run("watch", "shop", started_at=start)
        for step in range(120):
            ts = start + timedelta(seconds=5 * step)
            host = HostMemory(8 * 1024 * MIB, 1024 * MIB, 7 * 1024 * MIB, 12.5, 1.0)
            containers = (watched("api", 100 + step % 36, 512), watched("db", 200, None, project="other"))
            store.record_frame(run, Frame(ts, 5.0 * step, host, ThresholdLevel.SAFE, (), containers))
        store.end_run(run)
    return path


def test_json(history: Path) -> None:
    result = CliRunner().invoke(make_app(), ["--since", "2h", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    assert datetime.fromisoformat(document["since"]) == NOW - timedelta(hours=2)
    assert [entry["service"] for entry in document["services"]] == ["db", "api"]  # by project: other, shop
    api = document["services"][1]
    assert api == {
        "project": "shop",
        "service": "api",
        "runs": 1,
        "samples": 120,
        "peak_bytes": 135 * MIB,
        "p95_bytes": 133 * MIB,  # 100..111 four times, 112..135 three: the 114th of 120 is 133
        "memory_limit_bytes": 512 * MIB,
        "oom_kills": 0,
        "host_oom_kills": 0,
        "killed_processes": [],
        "recommended_limit_bytes": 176 * MIB,
        "p95_known": True,
        "leak": None,
        "advice": {"kind": "lower", "text": "limit 512MiB is 3.8× the peak: lower to 176MiB"},
    }


def test_the_kills_are_told_by_process(history: Path) -> None:
    # The kernel's log named the processes: redis-server three times, a health check's dd once,
    # and once the host ran out of memory (the service's limit did not cause that one).
    with HistoryStore(history) as store:
        run = store.start_run("watch", "shop", started_at=NOW - timedelta(minutes=30))
        kills = [("redis-server", False), ("redis-server", False), ("dd", False), ("redis-server", True)]
        for index, (process, host_wide) in enumerate(kills):
            at = NOW - timedelta(minutes=29 - index)
            store.record_oom(run, at, "default", "shop", "api", "shop-api-1", process, 60 * MIB, host_wide)
        store.end_run(run)
    api = next(s for s in json.loads(CliRunner().invoke(make_app(), ["--json"]).stdout)["services"]
               if s["service"] == "api")  # fmt: skip
    assert (api["oom_kills"], api["host_oom_kills"]) == (4, 1)
    assert api["killed_processes"] == [
        {"name": "redis-server", "kills": 3, "host_wide_kills": 1},
        {"name": "dd", "kills": 1, "host_wide_kills": 0},
    ]
    text = " ".join(CliRunner().invoke(make_app(), []).stdout.split())  # the notes wrap at 80 columns
    told = "redis-server 3×, dd 1× (1 by the host's OOM killer: the machine ran out of memory)"
    assert f"OOM kills by process: {told}" in text


def test_json_for_one_project_and_a_short_window(history: Path) -> None:
    result = CliRunner().invoke(make_app(), ["-p", "other", "--json"])
    assert [entry["service"] for entry in json.loads(result.stdout)["services"]] == ["db"]
    result = CliRunner().invoke(make_app(), ["--since", "30m", "--json"])
    assert json.loads(result.stdout)["services"] == []  # the watch ended 50 minutes ago


def test_text_report_and_html_file(history: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(make_app(), ["--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "MEMORY BY SERVICE  project shop" in result.stdout and "lower to 176MiB" in result.stdout
    db = next(line for line in result.stdout.splitlines() if line.startswith(" db "))
    assert db.split()[-5:] == ["no", "limit", "0", "set", "272MiB"]  # 200 MiB × 1.3, rounded up to 16 MiB
    assert "Memory over time" in result.stdout
    assert result.stdout.rstrip().endswith(f"HTML report written to {page}")
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "<td>other/db</td>" in html


def test_html_with_json_says_the_file_on_stderr(history: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(make_app(), ["--json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == 1  # stdout holds the document alone
    assert result.stderr.strip() == f"HTML report written to {page}" and page.exists()


def test_without_history() -> None:
    result = CliRunner().invoke(make_app(), ["--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["services"] == []
    assert not history_path(load_settings().state_path).exists()


def test_bad_since_is_one_line_and_exit_2(history: Path) -> None:
    result = CliRunner().invoke(make_app(), ["--since", "soon"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "dockermem: --since: 'soon' is not a duration (for example 90s, 30m, 2h, 7d)"
    ]


def test_bad_project_name_is_refused() -> None:
    result = CliRunner().invoke(make_app(), ["-p", "Not A Project"])
    assert result.exit_code == 2


def test_unreadable_history_names_the_file() -> None:
    path = history_path(load_settings().state_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(make_app(), [])
    assert result.exit_code == 2
    assert str(path) in result.stderr and "unreadable" in result.stderr


def test_importing_the_command_loads_no_chart_or_database_module() -> None:
    code = (
        "import sys, dockermem.cli.report; "
        "print(sorted(m for m in ('matplotlib', 'plotext', 'sqlite3', 'numpy') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_html_without_its_extra_says_how_to_get_it(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in an install without dockermem[html]
    page = tmp_path / "report.html"
    result = CliRunner().invoke(make_app(), ["--html", str(page)])
    assert result.exit_code == 2 and not page.exists()
    assert result.stderr.strip() == (
        "dockermem: --html draws its charts with matplotlib, which the html extra installs: "
        "pip install 'dockermem[html]'"
    )
