"""The history store: downsampling that keeps peaks, reports across runs, WAL, pruning, and a
database that cannot be read."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockermem.clock import ManualClock
from dockermem.config import Settings
from dockermem.core.events import EngineStatus, Event, EventType, Frame, SessionSummary, WatchedContainer
from dockermem.core.history import ChartMark, HistoryStore, PruneResult, ServiceHistory, recommend_limit
from dockermem.core.host import HostMemory
from dockermem.core.oom import kernel_details
from dockermem.core.recorder import HistoryRecorder
from dockermem.core.session import Session
from dockermem.core.sizing import AdviceKind, Leak, advise
from dockermem.core.thresholds import ThresholdLevel
from dockermem.errors import HistoryError
from dockermem.kernel.oom_log import parse_kmsg_record, parse_oom_kills
from tests.conftest import FIXTURES

MIB = 1024**2
BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE = BASE - timedelta(hours=1)
HOST = HostMemory(16 * 1024 * MIB, 4 * 1024 * MIB, 12 * 1024 * MIB, 25.0, 3.0)
ENGINE = EngineStatus("local", 16 * 1024 * MIB, "cgroup", True)


def container(
    service: str | None,
    usage_mib: float,
    limit_mib: int | None = None,
    oom_kills: int = 0,
    project: str | None = "shop",
    name: str | None = None,
) -> WatchedContainer:
    name = name or f"{project}-{service}-1"
    usage = int(usage_mib * MIB)
    return WatchedContainer(
        engine="local",
        id=f"{name}-id",
        name=name,
        project=project,
        service=service,
        memory_usage_bytes=usage,
        memory_limit_bytes=None if limit_mib is None else limit_mib * MIB,
        memory_percent=None if limit_mib is None else 100 * usage / (limit_mib * MIB),
        cpu_percent=None,
        level=ThresholdLevel.SAFE,
        trend_mib_per_minute=None,
        seconds_to_limit=None,
        leaking=False,
        recent_usage=(usage,),
        peak_bytes=usage,
        oom_kills=oom_kills,
    )


def frame(seconds: float, *containers: WatchedContainer) -> Frame:
    return Frame(
        ts=BASE + timedelta(seconds=seconds),
        elapsed_seconds=seconds,
        host=HOST,
        host_level=ThresholdLevel.SAFE,
        engines=(ENGINE,),
        containers=containers,
    )


@pytest.fixture
def clock() -> ManualClock:
    """The store's clock, at BASE: what the store stamps (a run's end) is set here, not read
    from the machine."""
    return ManualClock(BASE)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> HistoryStore:
    return HistoryStore(tmp_path / "state" / "history.sqlite3", min_interval_seconds=5.0, clock=clock)


def record_two_runs(store: HistoryStore) -> None:
    """Run 1 (watch): api and a killed worker each second for 10 s, db every 5 s for 40 samples.
    Run 2 (up): api with a new limit, OOM kills reported by events alone, a service-less container."""
    first = store.start_run("watch", "shop", started_at=BASE)
    api = [100, 120, 110, 105, 104, 90, 95, 130, 92, 91]  # interval peaks: 120 (1 s), 130 (7 s)
    for second, usage in enumerate(api):
        worker = container("worker", 40 + second, 64, oom_kills=1 if second >= 2 else 0)
        store.record_frame(first, frame(second, container("api", usage, 512), worker))
    store.record_oom(
        first, BASE + timedelta(seconds=2), "local", "shop", "worker", "shop-worker-1"
    )  # the same kill
    for index in range(40):
        store.record_frame(first, frame(20 + 5 * index, container("db", index + 1)))
    store.end_run(first, ended_at=BASE + timedelta(seconds=300))

    second_run = store.start_run("up", "shop", started_at=BASE + timedelta(seconds=1000))
    for offset, usage in enumerate([200, 150, 160, 170, 180, 140]):  # peak 200, then a new interval
        store.record_frame(second_run, frame(1000 + offset, container("api", usage, 256)))
    store.record_frame(second_run, frame(1000, container(None, 10, 64, project=None, name="lonely")))
    store.record_frame(second_run, frame(1000, container("cache", 20, 64, project="other")))
    for kill in range(2):
        kill_at = BASE + timedelta(seconds=1010 + kill)
        store.record_oom(second_run, kill_at, "local", "shop", "worker", "shop-worker-1")
    store.end_run(second_run)  # stamped by the store's clock


def test_one_row_per_interval_keeps_the_interval_peak(store: HistoryStore) -> None:
    run = store.start_run("watch", "shop", started_at=BASE)
    written = [store.record_frame(run, frame(second, container("api", usage))) for second, usage in
               enumerate([100, 120, 110, 105, 104, 90, 95, 130, 92, 91])]  # fmt: skip
    # A new row at 0 s and 5 s; the interval's row raised to 120 at 1 s, then to 95 and 130.
    assert written == [1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
    series = store.series(SINCE, "shop")
    assert series == {
        "shop/api": [(BASE + timedelta(seconds=1), 120 * MIB), (BASE + timedelta(seconds=7), 130 * MIB)]
    }


def test_an_oom_kill_always_gets_a_row(store: HistoryStore) -> None:
    run = store.start_run("watch", "shop", started_at=BASE)
    for second, kills in enumerate([0, 0, 1, 1, 2]):
        store.record_frame(run, frame(second, container("worker", 50, 64, oom_kills=kills)))
    [worker] = store.service_report(SINCE, "shop")
    assert worker.samples == 3  # 0 s, and each rise of the counter (2 s, 4 s) though within 5 s
    assert worker.oom_kills == 2


def test_a_database_of_an_earlier_version_gets_the_process_columns(tmp_path: Path) -> None:
    # The ooms table as the first release made it: no process, no host_wide.
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, project TEXT,"
            " started_at REAL NOT NULL, ended_at REAL);"
            "CREATE TABLE ooms (run_id INTEGER NOT NULL, ts REAL NOT NULL, engine TEXT NOT NULL,"
            " project TEXT, service TEXT NOT NULL, container TEXT NOT NULL);"
            f"INSERT INTO runs VALUES (1, 'up', 'shop', {BASE.timestamp()}, NULL);"
            f"INSERT INTO ooms VALUES (1, {BASE.timestamp() + 1}, 'local', 'shop', 'db', 'shop-db-1');"
        )
    old.close()
    with HistoryStore(path, clock=ManualClock(BASE)) as store:
        run = store.start_run("up", "shop", started_at=BASE)
        store.record_oom(
            run, BASE + timedelta(seconds=2), "local", "shop", "db", "shop-db-1", "postgres", 9, True
        )
        [db] = store.service_report(SINCE, "shop")
    assert db.oom_kills == 2  # the old row counts, without a process
    assert [(c.name, c.kills, c.host_wide_kills) for c in db.killed_processes] == [("postgres", 1, 1)]
    assert db.host_oom_kills == 1


def test_report_across_two_runs(store: HistoryStore) -> None:
    record_two_runs(store)
    report = {service.label: service for service in store.service_report(SINCE)}
    assert sorted(report) == ["lonely", "other/cache", "shop/api", "shop/db", "shop/worker"]
    assert report["shop/api"] == ServiceHistory(
        project="shop",
        service="api",
        runs=2,
        samples=4,  # 120 and 130 from run 1; 200 and 140 from run 2
        peak_bytes=200 * MIB,
        p95_bytes=200 * MIB,
        memory_limit_bytes=256 * MIB,  # the latest limit, not the largest
        oom_kills=0,
        recommended_limit_bytes=272 * MIB,  # 200 × 1.3 = 260, rounded up to 16 MiB
    )
    db = report["shop/db"]
    assert (db.runs, db.samples, db.peak_bytes) == (1, 40, 40 * MIB)
    assert db.p95_bytes == 38 * MIB  # nearest rank: ceil(0.95 × 40) = 38th of 1..40 MiB
    assert db.memory_limit_bytes is None
    # 1 MiB more every 5 s to the run's end: still climbing, so its peak sizes no limit.
    assert db.leak == Leak(pytest.approx(12.0), seen_by_watch=False)  # type: ignore[arg-type]
    assert db.recommended_limit_bytes is None
    worker = report["shop/worker"]
    # Run 1: the counter said 1 and events said 1 (the same kill); run 2: two kills from events.
    assert worker.oom_kills == 3
    assert worker.peak_bytes == 49 * MIB
    assert worker.samples == 3  # 0 s, the kill at 2 s, and the interval from 7 s
    assert worker.recommended_limit_bytes == 96 * MIB  # killed: the 64 MiB limit × 1.3, not the peak
    lonely = report["lonely"]
    assert (lonely.project, lonely.service, lonely.recommended_limit_bytes) == (None, "lonely", 32 * MIB)


def test_report_for_one_project_and_since(store: HistoryStore) -> None:
    record_two_runs(store)
    assert [service.service for service in store.service_report(SINCE, "shop")] == ["api", "db", "worker"]
    assert [service.label for service in store.service_report(SINCE, "other")] == ["other/cache"]
    late = {service.label: service for service in store.service_report(BASE + timedelta(seconds=900), "shop")}
    assert sorted(late) == ["shop/api", "shop/worker"]  # the worker only through its OOM kills
    assert (late["shop/api"].runs, late["shop/api"].samples, late["shop/api"].peak_bytes) == (1, 2, 200 * MIB)
    assert late["shop/worker"] == ServiceHistory("shop", "worker", 0, 0, 0, 0, None, 2, None)


def test_series_is_bounded_and_keeps_peaks(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite3", min_interval_seconds=0)
    run = store.start_run("watch", "shop", started_at=BASE)
    for step in range(600):
        usage = 400 if step == 377 else 100 + step % 7
        store.record_frame(
            run, frame(step, *(container("api", usage, name=f"shop-api-{n}") for n in range(5)))
        )
    series = store.series(SINCE, max_points=50)
    assert len(series["shop/api"]) <= 50
    assert (BASE + timedelta(seconds=377), 400 * MIB) in series["shop/api"]  # the spike, at its time
    times = [ts for ts, _ in series["shop/api"]]
    assert times == sorted(times) and BASE <= times[0] and times[-1] <= BASE + timedelta(seconds=599)
    assert min(usage for _, usage in series["shop/api"]) == 106 * MIB  # each bucket's highest
    assert len(store.series(SINCE)["shop/api"]) == 600  # under the default bound: every sample


def test_database_is_in_wal_mode_with_a_schema_version(store: HistoryStore) -> None:
    assert not store.path.exists()
    store.start_run("up", None)
    with sqlite3.connect(store.path) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        indexes = {row[0] for row in reader.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"samples_by_time", "samples_by_service"} <= indexes
    store.close()


def test_reading_makes_no_database(store: HistoryStore) -> None:
    assert store.service_report(SINCE) == []
    assert store.series(SINCE) == {}
    assert store.prune(timedelta(days=1)) == PruneResult(0, 0, 0)
    assert not store.path.exists()


def test_a_corrupt_database_is_a_history_error_naming_the_file(store: HistoryStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(HistoryError, match="history.sqlite3.*unreadable"):
        store.service_report(SINCE)
    with pytest.raises(HistoryError, match=str(store.path)):
        store.start_run("watch", "shop")


def test_a_newer_schema_is_refused(store: HistoryStore) -> None:
    store.start_run("watch", None)
    store.close()
    with sqlite3.connect(store.path) as writer:
        writer.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(HistoryError, match="schema 99 is newer"):
        HistoryStore(store.path).service_report(SINCE)


def test_unknown_run_kind_and_run_id_are_refused(store: HistoryStore) -> None:
    with pytest.raises(ValueError, match="run kind"):
        store.start_run("health", None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.record_frame(404, frame(0, container("api", 10)))


def test_prune_removes_old_samples_ooms_and_emptied_runs(store: HistoryStore, clock: ManualClock) -> None:
    clock.advance(1006)  # the second run ends when its last sample was taken
    record_two_runs(store)
    newer = store.start_run("watch", "shop", started_at=BASE + timedelta(days=20))
    store.record_frame(newer, frame(20 * 86400, container("api", 64, 128)))
    store.end_run(newer, ended_at=BASE + timedelta(days=20, seconds=10))

    clock.advance((BASE + timedelta(days=40) - clock.now()).total_seconds())
    result = store.prune(timedelta(days=30))
    # Run 1: api 2 + worker 3 + db 40 samples; run 2: api 2 + lonely 1 + cache 1; 3 OOMs; 2 runs.
    assert result == PruneResult(samples_removed=49, ooms_removed=3, runs_removed=2)
    [api] = store.service_report(SINCE)
    assert (api.label, api.runs, api.samples, api.peak_bytes) == ("shop/api", 1, 1, 64 * MIB)
    assert store.prune(timedelta(days=30)) == PruneResult(0, 0, 0)


@pytest.mark.parametrize(
    ("peak_mib", "limit_mib", "oom_kills", "expected_mib"),
    [
        (135, None, 0, 176),  # 175.5 → 176
        (160, 512, 0, 208),  # exactly 208
        (10, None, 0, 32),  # never below 32 MiB
        (0, None, 0, 32),
        (50, 64, 1, 96),  # OOM-killed: the limit is the real peak
        (100, 64, 1, 144),  # ... unless a sample saw more
        (50, 64, 0, 80),
    ],
)
def test_recommended_limit(peak_mib: int, limit_mib: int | None, oom_kills: int, expected_mib: int) -> None:
    limit = None if limit_mib is None else limit_mib * MIB
    assert recommend_limit(peak_mib * MIB, 1.3, limit, oom_kills) == expected_mib * MIB


def test_a_second_store_reads_while_the_first_writes(store: HistoryStore) -> None:
    run = store.start_run("watch", "shop", started_at=BASE)
    store.record_frame(run, frame(0, container("api", 64)))
    with HistoryStore(store.path) as reader:
        assert [service.peak_bytes for service in reader.service_report(SINCE)] == [64 * MIB]
        store.record_frame(run, frame(10, container("api", 96)))
        assert [service.peak_bytes for service in reader.service_report(SINCE)] == [96 * MIB]


def test_the_hosts_own_kills_are_counted_per_project(store: HistoryStore) -> None:
    run = store.start_run("up", "shop", started_at=BASE)
    store.record_oom(run, BASE, "local", "shop", "db", "shop-db-1", "postgres", 9, True)
    store.record_oom(run, BASE, "local", "shop", "db", "shop-db-1", "postgres", 9, False)
    store.record_oom(run, BASE, "local", "other", "api", "other-api-1", "node", 9, True)
    assert store.host_oom_kills(SINCE, "shop") == 1
    assert store.host_oom_kills(SINCE) == 2
    assert store.host_oom_kills(BASE + timedelta(seconds=1), "shop") == 0


def test_chart_marks_are_the_kills_and_the_leaks_by_time(store: HistoryStore, clock: ManualClock) -> None:
    run = store.start_run("watch", "shop", started_at=BASE)
    store.record_frame(run, frame(0, container("api", 50, 128)))
    leak = Event(EventType.LEAK, BASE + timedelta(seconds=30), "local", "shop-api-1", "api: +6.0 MiB/min",
                 project="shop", service="api", details={"mib_per_minute": 6.0})  # fmt: skip
    store.record_leak(run, leak, "shop")
    store.record_oom(run, BASE + timedelta(seconds=20), "local", "shop", "api", "shop-api-1")
    assert store.chart_marks(SINCE) == {
        "shop/api": [
            ChartMark(BASE + timedelta(seconds=20), "oom"),
            ChartMark(BASE + timedelta(seconds=30), "leak", 6.0),
        ]
    }
    [api] = store.service_report(SINCE)
    assert api.leak == Leak(6.0, seen_by_watch=True) and api.recommended_limit_bytes is None
    clock.advance(60)
    assert store.prune(timedelta(0)).samples_removed == 1 and store.chart_marks(SINCE) == {}


def test_a_leak_watch_took_back_is_no_leak_to_report(store: HistoryStore) -> None:
    run = store.start_run("watch", "shop", started_at=BASE)
    for second, mib in enumerate([60, 80, 100, 60, 80, 100, 60]):  # a sawtooth, flat at the end
        store.record_frame(run, frame(second * 10, container("batch", mib, 256)))
    leak = Event(EventType.LEAK, BASE + timedelta(seconds=15), "local", "shop-batch-1",
                 "batch: +120.0 MiB/min", project="shop", service="batch",
                 details={"mib_per_minute": 120.0})  # fmt: skip
    store.record_leak(run, leak, "shop")
    [batch] = store.service_report(SINCE)
    assert batch.leak is not None  # standing
    cleared = Event(EventType.LEAK_CLEARED, BASE + timedelta(seconds=30), "local", "shop-batch-1",
                    "batch: no longer growing", project="shop", service="batch")  # fmt: skip
    store.record_leak_cleared(run, cleared)
    [batch] = store.service_report(SINCE)
    assert batch.leak is None and batch.recommended_limit_bytes is not None
    assert store.chart_marks(SINCE) == {}


def test_services_named_by_number_are_reported_in_their_numbers_order(store: HistoryStore) -> None:
    # Containers outside compose are reported under their names: `job-2` before `job-10`.
    run = store.start_run("watch", None, started_at=BASE)
    jobs = [container(None, 10, 64, project=None, name=f"job-{n}") for n in (10, 2, 1)]
    store.record_frame(run, frame(0, *jobs))
    assert [service.service for service in store.service_report(SINCE)] == ["job-1", "job-2", "job-10"]


def test_a_kill_the_kernel_told_of_is_a_reading_of_its_cgroup(tmp_path: Path) -> None:
    # Podman's hog, PID 1 OOM-killed at its start (tests/fixtures/kernel): no frame ever read it.
    # The kernel's account of its cgroup at the kill is its one reading, so `report` can size it.
    records = (FIXTURES / "kernel" / "podman-compose-exited.kmsg").read_bytes().splitlines(keepends=True)
    [kill] = parse_oom_kills([r for line in records if (r := parse_kmsg_record(line)) is not None])
    assert kill.cgroup_usage_bytes is not None and kill.cgroup_limit_bytes == 32 * MIB
    path = tmp_path / "history.sqlite3"
    clock = ManualClock(BASE)
    recorder = HistoryRecorder(path, "up")
    recorder.begin(Session(Settings(), [], project="dmpodrec", clock=clock))
    details = {"seen_by": "kernel log", **kernel_details(kill)}
    recorder.event(Event(EventType.OOM, BASE, "default", "dmpodrec-hog-1", "OOM kill in dmpodrec-hog-1",
                         kill.container_id, "dmpodrec", "hog", details))  # fmt: skip
    recorder.finish(SessionSummary.empty())
    assert recorder.error is None
    with HistoryStore(path, clock=clock) as store:
        [hog] = store.service_report(SINCE, "dmpodrec")
    assert (hog.samples, hog.peak_bytes, hog.memory_limit_bytes, hog.oom_kills) == (
        1,
        kill.cgroup_usage_bytes,
        32 * MIB,
        1,
    )
    assert advise(hog).kind is AdviceKind.RAISE and hog.recommended_limit_bytes == 48 * MIB
