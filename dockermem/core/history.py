"""History: memory samples of `watch` and `up` runs kept in a local SQLite database, and the
right-sizing report made from them (peak, p95, OOM kills, a recommended limit per service).

The database is `<state dir>/history.sqlite3`, made on first write (WAL mode, so a report can
read while a watch writes). To keep it small, a container gets at most one row per
`min_interval_seconds`: the row holds the highest usage seen in its interval, and a rise in the
container's OOM kill count always gets a row of its own. Never prints.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from dockermem.clock import Clock, current_clock
from dockermem.core.sizing import MIN_PERCENTILE_SAMPLES, Leak, climbing_at_end
from dockermem.errors import HistoryError
from dockermem.units import name_order

if TYPE_CHECKING:
    # Only recording needs the session's modules (core/recorder.py imports them): `report` and
    # the preflight's recorded peaks read the database without them.
    from dockermem.core.events import Event, Frame

HISTORY_FILE = "history.sqlite3"
SCHEMA_VERSION = 1
MIB = 1024**2
LIMIT_STEP_BYTES = 16 * MIB
MIN_RECOMMENDED_BYTES = 32 * MIB
DEFAULT_HEADROOM = 1.3
DEFAULT_MIN_INTERVAL_SECONDS = 5.0
BUSY_TIMEOUT_MS = 5000
MAX_SERIES_POINTS = 2000

RunKind = Literal["watch", "up"]
RUN_KINDS: tuple[RunKind, ...] = ("watch", "up")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('watch', 'up')),
    project TEXT,
    started_at REAL NOT NULL,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS samples (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    engine TEXT NOT NULL,
    project TEXT,
    service TEXT NOT NULL,
    container TEXT NOT NULL,
    memory_usage_bytes INTEGER NOT NULL,
    memory_limit_bytes INTEGER,
    oom_kills INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ooms (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    engine TEXT NOT NULL,
    project TEXT,
    service TEXT NOT NULL,
    container TEXT NOT NULL,
    process TEXT,
    process_rss_bytes INTEGER,
    host_wide INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS leaks (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    engine TEXT NOT NULL,
    project TEXT,
    service TEXT NOT NULL,
    container TEXT NOT NULL,
    mib_per_minute REAL NOT NULL,
    cleared_at REAL  -- when watch took it back (leak-cleared): then it was no leak
);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (ts);
CREATE INDEX IF NOT EXISTS leaks_by_time ON leaks (ts);
CREATE INDEX IF NOT EXISTS samples_by_service ON samples (project, service, ts);
CREATE INDEX IF NOT EXISTS samples_by_run ON samples (run_id);
CREATE INDEX IF NOT EXISTS ooms_by_time ON ooms (ts);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
"""

# Per (project, service): counts, peak, the nearest-rank p95 (rank = ceil(0.95 n), in integer
# arithmetic), and the limit of the latest sample.
REPORT_QUERY = """
WITH chosen AS (
    SELECT rowid AS row_id, * FROM samples WHERE ts >= :since AND (:project IS NULL OR project = :project)
),
ranked AS (
    SELECT project, service, memory_usage_bytes,
           ROW_NUMBER() OVER (PARTITION BY project, service ORDER BY memory_usage_bytes) AS position,
           COUNT(*) OVER (PARTITION BY project, service) AS total
    FROM chosen
),
p95 AS (
    SELECT project, service, memory_usage_bytes AS p95_bytes
    FROM ranked WHERE position = (95 * total + 99) / 100
),
latest AS (
    SELECT project, service, memory_limit_bytes,
           ROW_NUMBER() OVER (PARTITION BY project, service ORDER BY ts DESC, row_id DESC) AS recency
    FROM chosen
)
SELECT c.project, c.service, COUNT(DISTINCT c.run_id), COUNT(*), MAX(c.memory_usage_bytes),
       p95.p95_bytes, latest.memory_limit_bytes
FROM chosen AS c
JOIN p95 ON p95.project IS c.project AND p95.service = c.service
JOIN latest ON latest.project IS c.project AND latest.service = c.service AND latest.recency = 1
GROUP BY c.project, c.service
"""

# OOM kills per container and run: the larger of the highest counter a sample carried and the
# kills recorded one by one (both count the same kills; either may have missed some).
OOM_QUERY = """
WITH counted AS (
    SELECT run_id, engine, project, service, container, MAX(oom_kills) AS kills
    FROM samples WHERE ts >= :since AND (:project IS NULL OR project = :project)
    GROUP BY run_id, engine, project, service, container
    UNION ALL
    SELECT run_id, engine, project, service, container, COUNT(*) AS kills
    FROM ooms WHERE ts >= :since AND (:project IS NULL OR project = :project)
    GROUP BY run_id, engine, project, service, container
),
per_container AS (
    SELECT project, service, MAX(kills) AS kills
    FROM counted GROUP BY run_id, engine, project, service, container
)
SELECT project, service, SUM(kills) FROM per_container GROUP BY project, service
"""

# The kernel log's account of each service's kills: which process, and whether the host ran
# out (its OOM killer) rather than the container's limit.
KILLED_PROCESSES_QUERY = """
SELECT project, service, process, SUM(host_wide), COUNT(*)
FROM ooms WHERE ts >= :since AND (:project IS NULL OR project = :project) AND process IS NOT NULL
GROUP BY project, service, process
ORDER BY project, service, COUNT(*) DESC, process
"""
# Each service's latest run in the window: the run its leak is judged by.
LATEST_RUN = """
latest_run AS (
    SELECT project, service, MAX(run_id) AS run_id
    FROM samples WHERE ts >= :since AND (:project IS NULL OR project = :project)
    GROUP BY project, service
)"""

# The leaks `watch` called in each service's latest run and did not take back: the fastest
# growth it saw.
LEAKS_QUERY = f"""
WITH {LATEST_RUN}
SELECT l.project, l.service, MAX(l.mib_per_minute)
FROM leaks AS l
JOIN latest_run AS r ON r.project IS l.project AND r.service = l.service AND r.run_id = l.run_id
WHERE l.ts >= :since AND l.cleared_at IS NULL
GROUP BY l.project, l.service
"""

# Each service's latest run, one point per frame (its containers' highest usage): whether memory
# was still climbing when the run ended.
LATEST_RUN_POINTS_QUERY = f"""
WITH {LATEST_RUN}
SELECT s.project, s.service, s.ts, MAX(s.memory_usage_bytes)
FROM samples AS s
JOIN latest_run AS r ON r.project IS s.project AND r.service = s.service AND r.run_id = s.run_id
WHERE s.ts >= :since
GROUP BY s.project, s.service, s.ts
ORDER BY s.project, s.service, s.ts
"""

# What the charts mark: OOM kills and the leaks watch called and did not take back.
MARKS_QUERY = """
SELECT project, service, ts, 'oom', NULL FROM ooms
WHERE ts >= :since AND (:project IS NULL OR project = :project)
UNION ALL
SELECT project, service, ts, 'leak', mib_per_minute FROM leaks
WHERE ts >= :since AND (:project IS NULL OR project = :project) AND cleared_at IS NULL
ORDER BY 3
"""

# Columns added to a table after its first release (a database made before gets them).
ADDED_COLUMNS = {
    "ooms": (
        ("process", "TEXT"),
        ("process_rss_bytes", "INTEGER"),
        ("host_wide", "INTEGER NOT NULL DEFAULT 0"),
    ),
    "leaks": (("cleared_at", "REAL"),),
}

# One point per time bucket and service: its highest usage (SQLite gives the bare column `ts`
# from the row that holds the MAX), so downsampling never hides a peak.
SERIES_QUERY = """
SELECT project, service, ts, MAX(memory_usage_bytes)
FROM samples
WHERE ts >= :since AND (:project IS NULL OR project = :project)
GROUP BY project, service, MIN(CAST((ts - :start) / :width AS INTEGER), :last)
ORDER BY project, service, ts
"""


@dataclass(frozen=True)
class KilledProcessCount:
    """How often the kernel killed one process (by name) of a service."""

    name: str
    kills: int
    host_wide_kills: int = 0


@dataclass(frozen=True)
class ServiceHistory:
    """What the history says of one compose service (or container without one) since a time."""

    project: str | None
    service: str
    runs: int
    samples: int
    peak_bytes: int
    p95_bytes: int
    memory_limit_bytes: int | None
    oom_kills: int
    recommended_limit_bytes: int | None
    # The kernel log's account of the kills, where it was read: how often each process was
    # killed, most first, and how many of the kills were the host's (it ran out of memory).
    killed_processes: tuple[KilledProcessCount, ...] = ()
    host_oom_kills: int = 0
    # Growth in the service's latest run that makes its peak useless for sizing (then
    # `recommended_limit_bytes` is None): a leak watch called, or memory still climbing at the end.
    leak: Leak | None = None

    @property
    def label(self) -> str:
        """`project/service`, or the service alone when it has no project."""
        return service_label(self.project, self.service)

    @property
    def p95_known(self) -> bool:
        """Whether there are samples enough for p95 to mean more than the peak."""
        return self.samples >= MIN_PERCENTILE_SAMPLES


@dataclass(frozen=True)
class ChartMark:
    """Something to mark on a service's chart: an OOM kill, or a leak watch called (its rate)."""

    ts: datetime
    kind: Literal["oom", "leak"]
    mib_per_minute: float | None = None


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed."""

    samples_removed: int
    ooms_removed: int
    runs_removed: int


def service_label(project: str | None, service: str) -> str:
    """The name a service goes by in reports and in `series` keys."""
    return service if project is None else f"{project}/{service}"


def history_path(state_dir: Path) -> Path:
    """The history database in a state directory."""
    return state_dir / HISTORY_FILE


def recommend_limit(
    peak_bytes: int, headroom: float = DEFAULT_HEADROOM, limit_bytes: int | None = None, oom_kills: int = 0
) -> int:
    """The peak times the headroom, rounded up to 16 MiB, at least 32 MiB.

    A service that was OOM-killed used its whole limit, whatever the samples caught, so its
    limit counts as its peak when that is higher."""
    if oom_kills > 0 and limit_bytes is not None:
        peak_bytes = max(peak_bytes, limit_bytes)
    wanted = math.ceil(peak_bytes * headroom)
    rounded = -(-wanted // LIMIT_STEP_BYTES) * LIMIT_STEP_BYTES
    return max(rounded, MIN_RECOMMENDED_BYTES)


@dataclass
class _Interval:
    """The row a container's current interval was written to, and what it holds."""

    started: float
    rowid: int
    usage_bytes: int
    oom_kills: int


class HistoryStore:
    """Memory history in one SQLite file: runs, samples and OOM kills, and the reports on them.

    Opened on first use; a missing file is made on the first write and reads as empty. Runs
    are stamped, and `prune` measures age, by `clock` (the one in force by default)."""

    def __init__(
        self,
        path: Path,
        min_interval_seconds: float = DEFAULT_MIN_INTERVAL_SECONDS,
        headroom: float = DEFAULT_HEADROOM,
        clock: Clock | None = None,
    ) -> None:
        self.path = path
        self.clock = clock or current_clock()
        self.min_interval_seconds = min_interval_seconds
        self.headroom = headroom
        self._connection: sqlite3.Connection | None = None
        self._intervals: dict[tuple[int, str, str], _Interval] = {}

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # Writing

    def start_run(self, kind: RunKind, project: str | None, started_at: datetime | None = None) -> int:
        """Begin a run of `watch` or `up`; its id tags every sample recorded for it."""
        if kind not in RUN_KINDS:
            raise ValueError(f"run kind must be one of {RUN_KINDS}, not {kind!r}")
        started = (started_at or self.clock.now()).timestamp()
        with self._write() as connection:
            cursor = connection.execute(
                "INSERT INTO runs (kind, project, started_at) VALUES (?, ?, ?)", (kind, project, started)
            )
        return _rowid(cursor)

    def end_run(self, run_id: int, ended_at: datetime | None = None) -> None:
        """Mark a run finished (and forget its containers' intervals)."""
        ended = (ended_at or self.clock.now()).timestamp()
        with self._write() as connection:
            connection.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (ended, run_id))
        for key in [key for key in self._intervals if key[0] == run_id]:
            del self._intervals[key]

    def record_frame(self, run_id: int, frame: Frame) -> int:
        """Record a watch frame's containers, at most one row per container per interval;
        gives the number of rows written or raised to a new peak."""
        ts = frame.ts.timestamp()
        changed = 0
        with self._write() as connection:
            for container in frame.containers:
                key = (run_id, container.engine, container.id)
                usage = container.memory_usage_bytes
                interval = self._intervals.get(key)
                new_interval = interval is None or ts - interval.started >= self.min_interval_seconds
                if interval is None or new_interval or container.oom_kills > interval.oom_kills:
                    cursor = connection.execute(
                        "INSERT INTO samples (run_id, ts, engine, project, service, container,"
                        " memory_usage_bytes, memory_limit_bytes, oom_kills)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            run_id,
                            ts,
                            container.engine,
                            container.project,
                            container.service or container.name,
                            container.name,
                            usage,
                            container.memory_limit_bytes,
                            container.oom_kills,
                        ),
                    )
                    self._intervals[key] = _Interval(ts, _rowid(cursor), usage, container.oom_kills)
                    changed += 1
                elif usage > interval.usage_bytes:
                    # Same interval, higher usage: the interval's row takes the new peak.
                    connection.execute(
                        "UPDATE samples SET ts = ?, memory_usage_bytes = ?, memory_limit_bytes = ?"
                        " WHERE rowid = ?",
                        (ts, usage, container.memory_limit_bytes, interval.rowid),
                    )
                    interval.usage_bytes = usage
                    changed += 1
        return changed

    def record_oom(
        self,
        run_id: int,
        ts: datetime,
        engine: str,
        project: str | None,
        service: str | None,
        container: str,
        process: str | None = None,
        process_rss_bytes: int | None = None,
        host_wide: bool = False,
        cgroup: tuple[int, int | None] | None = None,
    ) -> None:
        """Count one OOM kill (one seen in docker events, say, that no sample carried), with
        the process the kernel killed where its log told. `cgroup`: the usage and limit the
        kernel read of the container's cgroup at the kill, kept as a sample too (a container
        killed at its start has no other)."""
        with self._write() as connection:
            connection.execute(
                "INSERT INTO ooms (run_id, ts, engine, project, service, container, process,"
                " process_rss_bytes, host_wide) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, ts.timestamp(), engine, project, service or container, container, process,
                 process_rss_bytes, int(host_wide)),
            )  # fmt: skip
            if cgroup is not None:
                connection.execute(
                    "INSERT INTO samples (run_id, ts, engine, project, service, container,"
                    " memory_usage_bytes, memory_limit_bytes, oom_kills) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (run_id, ts.timestamp(), engine, project, service or container, container, *cgroup),
                )

    def record_leak(self, run_id: int, leak: Event, project: str | None) -> None:
        """Keep a `leak` event of watch's (its container and growth rate), under `project` (the
        name the run records its project as): `report` advises no limit for the service."""
        container = leak.container or ""
        with self._write() as connection:
            connection.execute(
                "INSERT INTO leaks (run_id, ts, engine, project, service, container, mib_per_minute)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, leak.ts.timestamp(), leak.engine, project, leak.service or container, container,
                 float(leak.details.get("mib_per_minute") or 0.0)),
            )  # fmt: skip

    def record_leak_cleared(self, run_id: int, cleared: Event) -> None:
        """A `leak-cleared` of watch's: the container's standing leak of the run was no leak."""
        with self._write() as connection:
            connection.execute(
                "UPDATE leaks SET cleared_at = ? WHERE run_id = ? AND engine = ? AND container = ?"
                " AND cleared_at IS NULL",
                (cleared.ts.timestamp(), run_id, cleared.engine, cleared.container or ""),
            )

    def prune(self, older_than: timedelta) -> PruneResult:
        """Remove samples and OOM kills older than `older_than` (by the store's clock), and the
        runs left empty."""
        if not self.path.exists():
            return PruneResult(0, 0, 0)
        cutoff = (self.clock.now() - older_than).timestamp()
        with self._write() as connection:
            samples = connection.execute("DELETE FROM samples WHERE ts < ?", (cutoff,)).rowcount
            ooms = connection.execute("DELETE FROM ooms WHERE ts < ?", (cutoff,)).rowcount
            connection.execute("DELETE FROM leaks WHERE ts < ?", (cutoff,))
            runs = connection.execute(
                "DELETE FROM runs WHERE COALESCE(ended_at, started_at) < ?"
                " AND id NOT IN (SELECT run_id FROM samples) AND id NOT IN (SELECT run_id FROM ooms)"
                " AND id NOT IN (SELECT run_id FROM leaks)",
                (cutoff,),
            ).rowcount
        return PruneResult(samples, ooms, runs)

    # Reading

    def service_report(self, since: datetime, project: str | None = None) -> list[ServiceHistory]:
        """Per (project, service) since a time, across runs: samples, runs, peak, p95, latest
        limit, OOM kills and the recommended limit; ordered by project and service."""
        connection = self._read()
        if connection is None:
            return []
        parameters = {"since": since.timestamp(), "project": project}
        try:
            rows = connection.execute(REPORT_QUERY, parameters).fetchall()
            kills = {(p, s): int(n) for p, s, n in connection.execute(OOM_QUERY, parameters).fetchall()}
            processes: dict[tuple[str | None, str], list[KilledProcessCount]] = {}
            for row_project, service, process, host_wide, count in connection.execute(
                KILLED_PROCESSES_QUERY, parameters
            ):
                processes.setdefault((row_project, service), []).append(
                    KilledProcessCount(process, int(count), int(host_wide))
                )
            leaks = self._leaks(connection, parameters)
        except sqlite3.DatabaseError as error:
            raise self._unreadable(error) from None
        services = []

        def killed(key: tuple[str | None, str]) -> tuple[tuple[KilledProcessCount, ...], int]:
            counts = tuple(processes.get(key, ()))
            return counts, sum(count.host_wide_kills for count in counts)

        for row_project, service, runs, samples, peak, p95, limit in rows:
            oom_kills = kills.pop((row_project, service), 0)
            leak = leaks.get((row_project, service))
            recommended = None if leak else recommend_limit(peak, self.headroom, limit, oom_kills)
            services.append(
                ServiceHistory(row_project, service, runs, samples, peak, p95, limit, oom_kills, recommended,
                               *killed((row_project, service)), leak=leak)
            )  # fmt: skip
        # OOM kills of services no sample in the window describes: reported, with nothing to size.
        for (row_project, service), oom_kills in kills.items():
            services.append(
                ServiceHistory(row_project, service, 0, 0, 0, 0, None, oom_kills, None,
                               *killed((row_project, service)))
            )  # fmt: skip
        services.sort(key=lambda entry: (entry.project or "", name_order(entry.service)))
        return services

    @staticmethod
    def _leaks(
        connection: sqlite3.Connection, parameters: dict[str, float | str | None]
    ) -> dict[tuple[str | None, str], Leak]:
        """Per service, the leak of its latest run: the one watch called, else memory that was
        still climbing when the run ended."""
        called = {
            (row_project, service): Leak(float(rate), seen_by_watch=True)
            for row_project, service, rate in connection.execute(LEAKS_QUERY, parameters)
        }
        points: dict[tuple[str | None, str], list[tuple[float, float]]] = {}
        for row_project, service, ts, usage in connection.execute(LATEST_RUN_POINTS_QUERY, parameters):
            points.setdefault((row_project, service), []).append((float(ts), float(usage)))
        for key, run_points in points.items():
            if key not in called and (fit := climbing_at_end(run_points)) is not None:
                called[key] = Leak(fit.mib_per_minute, seen_by_watch=False)
        return called

    def chart_marks(self, since: datetime, project: str | None = None) -> dict[str, list[ChartMark]]:
        """Per service (`service_label`), its OOM kills and the leaks watch called, by time."""
        connection = self._read()
        if connection is None:
            return {}
        try:
            rows = connection.execute(
                MARKS_QUERY, {"since": since.timestamp(), "project": project}
            ).fetchall()
        except sqlite3.DatabaseError as error:
            raise self._unreadable(error) from None
        marks: dict[str, list[ChartMark]] = {}
        for row_project, service, ts, kind, rate in rows:
            marks.setdefault(service_label(row_project, service), []).append(
                ChartMark(datetime.fromtimestamp(ts, UTC), kind, None if rate is None else float(rate))
            )
        return marks

    def host_oom_kills(self, since: datetime, project: str | None = None) -> int:
        """The kills by the host's own OOM killer recorded since a time (the machine ran out)."""
        connection = self._read()
        if connection is None:
            return 0
        try:
            row = connection.execute(
                "SELECT COUNT(*) FROM ooms WHERE host_wide = 1 AND ts >= ? AND (? IS NULL OR project = ?)",
                (since.timestamp(), project, project),
            ).fetchone()
        except sqlite3.DatabaseError as error:
            raise self._unreadable(error) from None
        return int(row[0])

    def series(
        self, since: datetime, project: str | None = None, max_points: int = MAX_SERIES_POINTS
    ) -> dict[str, list[tuple[datetime, int]]]:
        """Memory over time per service (`service_label`), at most `max_points` points each:
        each point is the highest usage of any of the service's containers in its time bucket."""
        connection = self._read()
        if connection is None:
            return {}
        where = {"since": since.timestamp(), "project": project}
        try:
            start, end = connection.execute(
                "SELECT MIN(ts), MAX(ts) FROM samples WHERE ts >= :since"
                " AND (:project IS NULL OR project = :project)",
                where,
            ).fetchone()
            if start is None:
                return {}
            width = max((end - start) / max_points, 1e-6)
            rows = connection.execute(
                SERIES_QUERY, {**where, "start": start, "width": width, "last": max_points - 1}
            ).fetchall()
        except sqlite3.DatabaseError as error:
            raise self._unreadable(error) from None
        series: dict[str, list[tuple[datetime, int]]] = {}
        for row_project, service, ts, usage in rows:
            series.setdefault(service_label(row_project, service), []).append(
                (datetime.fromtimestamp(ts, UTC), int(usage))
            )
        return series

    # The connection

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as error:
            raise HistoryError(f"{self.path}: cannot open the history database: {error}") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL cannot corrupt the file; it spares an fsync per frame.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:
                connection.executescript(SCHEMA)
                _add_missing_columns(connection)
                versions = [row[0] for row in connection.execute("SELECT version FROM schema_version")]
                if not versions:
                    connection.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as error:
            connection.close()
            raise self._unreadable(error) from None
        if versions and max(versions) > SCHEMA_VERSION:
            connection.close()
            raise HistoryError(
                f"{self.path}: history schema {max(versions)} is newer than this dockermem reads "
                f"({SCHEMA_VERSION})"
            )
        self._connection = connection
        return connection

    def _read(self) -> sqlite3.Connection | None:
        """The connection for a query, or None when there is no database yet (reads make none)."""
        if self._connection is None and not self.path.exists():
            return None
        return self._open()

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def _unreadable(self, error: sqlite3.Error) -> HistoryError:
        return HistoryError(f"{self.path}: the history database is unreadable ({error})")


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Give a database made by an earlier dockermem the columns added since (NULL or their
    default in its old rows): what it holds stays readable, by either version."""
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for name, declaration in columns:
            if name not in present:
                try:
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
                except sqlite3.OperationalError as error:  # another process may have added it first
                    if "duplicate column" not in str(error):
                        raise


class _Transaction:
    """One write transaction; SQLite's errors become a `HistoryError` naming the file."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.connection: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        self.connection = self.store._open()
        self.connection.__enter__()
        return self.connection

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self.connection is not None
        try:
            self.connection.__exit__(kind, error, trace)  # commit, or roll back on an error
        except sqlite3.DatabaseError as failure:
            raise self.store._unreadable(failure) from None
        # A broken constraint (a run id that does not exist) is the caller's bug, not the file's.
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.IntegrityError):
            raise self.store._unreadable(error) from None


def _rowid(cursor: sqlite3.Cursor) -> int:
    rowid = cursor.lastrowid
    assert rowid is not None  # an INSERT always sets it
    return rowid
