"""Prometheus metrics: names follow cAdvisor where they overlap, plus dockermem's own.

`container_memory_working_set_bytes` and `container_memory_usage_bytes` both carry the figure
`docker stats` shows (usage less inactive file cache): the docker CLI path has no other."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dockermem.core.events import Frame
from dockermem.core.snapshot import ResourceSnapshot
from dockermem.core.thresholds import LEVEL_ORDER, ThresholdLevel

LABELS = ["engine", "project", "service", "container"]


@dataclass(frozen=True)
class ContainerMetrics:
    """What the metrics say of one container (from a snapshot or a watch frame)."""

    engine: str
    project: str | None
    service: str | None
    container: str
    usage_bytes: int
    limit_bytes: int | None
    level: ThresholdLevel
    oom_kills: int | None  # None: not counted (a one-off snapshot)
    seconds_to_limit: float | None


@dataclass(frozen=True)
class HostMetrics:
    memory_total_bytes: int
    memory_available_bytes: int


def metric_families(host: HostMetrics | None, containers: Sequence[ContainerMetrics]) -> list[Metric]:
    """The metric families for one moment (pure)."""
    usage = GaugeMetricFamily(
        "container_memory_usage_bytes", "Memory in use, as docker stats reports it.", labels=LABELS
    )
    working_set = GaugeMetricFamily(
        "container_memory_working_set_bytes", "Memory in use less inactive file cache.", labels=LABELS
    )
    limit = GaugeMetricFamily(
        "container_spec_memory_limit_bytes", "Memory limit of the container (0: no limit).", labels=LABELS
    )
    ooms = CounterMetricFamily("container_oom_events", "OOM kills seen in the container.", labels=LABELS)
    level = GaugeMetricFamily(
        "dockermem_threshold_level", "0 safe, 1 warning, 2 critical, 3 emergency.", labels=LABELS
    )
    to_limit = GaugeMetricFamily(
        "dockermem_seconds_to_limit",
        "Predicted seconds until the limit, for a growing container.",
        labels=LABELS,
    )
    for container in containers:
        values = [container.engine, container.project or "", container.service or "", container.container]
        usage.add_metric(values, container.usage_bytes)
        working_set.add_metric(values, container.usage_bytes)
        limit.add_metric(values, container.limit_bytes or 0)
        if container.oom_kills is not None:
            ooms.add_metric(values, container.oom_kills)
        level.add_metric(values, LEVEL_ORDER.index(container.level))
        if container.seconds_to_limit is not None:
            to_limit.add_metric(values, container.seconds_to_limit)
    families: list[Metric] = [usage, working_set, limit, ooms, level, to_limit]
    if host is not None:
        total = GaugeMetricFamily("dockermem_host_memory_total_bytes", "Host memory.")
        total.add_metric([], host.memory_total_bytes)
        available = GaugeMetricFamily("dockermem_host_memory_available_bytes", "Host memory available.")
        available.add_metric([], host.memory_available_bytes)
        families += [total, available]
    return families


class LatestCollector(Collector):
    """Serves the families of whatever moment was stored last (watch stores every frame)."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def store(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def exposition_text(families: Sequence[Metric]) -> str:
    """The Prometheus text format of some families (for node_exporter's textfile collector)."""
    from prometheus_client import CollectorRegistry, generate_latest

    collector = LatestCollector()
    collector.store(families)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode("utf-8")


def snapshot_metrics(snapshot: ResourceSnapshot, engine: str = "default") -> list[Metric]:
    """Metrics of a `stats` snapshot."""
    host = HostMetrics(snapshot.host.memory_total_bytes, snapshot.host.memory_available_bytes)
    return metric_families(
        host,
        [
            ContainerMetrics(
                engine,
                c.project,
                c.service,
                c.name,
                c.memory_usage_bytes,
                c.memory_limit_bytes,
                c.level,
                None,
                None,
            )
            for c in snapshot.containers
        ],
    )


def frame_metrics(frame: Frame) -> list[Metric]:
    """Metrics of a watch frame (with OOM counts and predictions)."""
    host = HostMetrics(frame.host.memory_total_bytes, frame.host.memory_available_bytes)
    return metric_families(
        host,
        [
            ContainerMetrics(
                row.engine,
                row.project,
                row.service,
                row.name,
                row.memory_usage_bytes,
                row.memory_limit_bytes,
                row.level,
                row.oom_kills,
                row.seconds_to_limit,
            )
            for row in frame.containers
        ],
    )
