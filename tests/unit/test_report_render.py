"""The history report: verdicts, the terminal table and chart, the JSON document, and the one-file
HTML report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rich.console import Console

from dockermem.core.history import ServiceHistory, recommend_limit
from dockermem.core.sizing import advise
from dockermem.render.report import build_html_report, build_report, report_document

MIB = 1024**2
SINCE = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)


def service(
    name: str, peak_mib: float, limit_mib: int | None, oom_kills: int = 0, project: str | None = "shop"
) -> ServiceHistory:
    peak = int(peak_mib * MIB)
    limit = None if limit_mib is None else limit_mib * MIB
    return ServiceHistory(
        project=project,
        service=name,
        runs=2,
        samples=120,
        peak_bytes=peak,
        p95_bytes=int(peak * 0.9),
        memory_limit_bytes=limit,
        oom_kills=oom_kills,
        recommended_limit_bytes=recommend_limit(peak, 1.3, limit, oom_kills),
    )


API = service("api", 135, 512)  # recommended 176 MiB
DB = service("db", 248.32, 256)  # 97 % of its limit; recommended 336 MiB
CACHE = service("cache", 30, None)  # recommended 48 MiB
WORKER = service("worker", 60, 64, oom_kills=3)  # recommended 96 MiB
QUEUE = service("queue", 100, 150)  # fits
SERVICES = [API, CACHE, DB, QUEUE, WORKER]
SERIES = {
    "shop/api": [(SINCE + timedelta(minutes=m), (100 + m) * MIB) for m in range(36)],
    "shop/db": [(SINCE + timedelta(minutes=m), int(248.32 * MIB) - m * MIB) for m in range(36)],
}


def render(renderable: object) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def verdict(service: ServiceHistory) -> tuple[str, str]:
    advice = advise(service)
    return advice.detail, advice.kind.value


def test_verdicts() -> None:
    assert verdict(API) == ("limit 512MiB is 3.8× the peak: lower to 176MiB", "lower")
    assert verdict(DB) == ("peak reached 97% of the limit: raise to 336MiB", "raise")
    assert verdict(CACHE) == ("no limit: set 48.0MiB", "set")
    assert verdict(WORKER) == ("OOM-killed 3× at 64.0MiB: raise to 96.0MiB", "raise")
    assert verdict(QUEUE) == ("fits: peak is 67% of the limit", "fits")
    only_killed = ServiceHistory("shop", "gone", 0, 0, 0, 0, None, 2, None)
    assert verdict(only_killed) == ("OOM-killed 2× but no samples: nothing to size", "none")


def test_terminal_report_has_the_figures_and_the_chart() -> None:
    text = render(build_report(SERVICES, SINCE, SERIES))
    assert "DOCKERMEM HISTORY REPORT  since 2026-11-19 12:00 UTC\nproject shop" in text
    api = next(line for line in text.splitlines() if line.startswith(" api "))
    assert api.split() == ["api", "2", "120", "135MiB", "122MiB", "512MiB", "0", "lower", "to", "176MiB"]
    assert "api:    limit 512MiB is 3.8× the peak: lower to 176MiB" in text  # in full under the table
    worker = next(line for line in text.splitlines() if line.startswith(" worker "))
    assert worker.split()[5:] == ["64.0MiB", "3", "raise", "to", "96.0MiB"]
    cache = next(line for line in text.splitlines() if line.startswith(" cache "))
    assert "no limit" in cache and "set 48.0MiB" in cache
    assert "Memory over time (MiB, UTC)" in text
    chart = text[text.index("Memory over time") :]
    assert "⣿⣿ api" in chart and "xx db" in chart  # the legend, under the chart, without the project
    assert "12:00" in chart and "12:30" in chart  # the time axis, every 5 or 10 minutes
    assert "300┤" in chart and "100┤" in chart  # round ticks, up past db's peak


def test_terminal_report_without_history() -> None:
    text = render(build_report([], SINCE, {}))
    assert "No memory history since 2026-11-19 12:00 UTC" in text
    assert "MEMORY BY SERVICE" not in text


def test_json_document() -> None:
    document = report_document([API, CACHE], SINCE)
    assert document["schema"] == 1 and document["since"] == "2026-11-19T12:00:00+00:00"
    assert document["services"][0] == {
        "project": "shop",
        "service": "api",
        "runs": 2,
        "samples": 120,
        "peak_bytes": 135 * MIB,
        "p95_bytes": int(135 * MIB * 0.9),
        "memory_limit_bytes": 512 * MIB,
        "oom_kills": 0,
        "host_oom_kills": 0,
        "killed_processes": [],
        "recommended_limit_bytes": 176 * MIB,
        "p95_known": True,
        "leak": None,
        "advice": {"kind": "lower", "text": "limit 512MiB is 3.8× the peak: lower to 176MiB"},
    }
    assert document["min_percentile_samples"] == 20
    assert document["services"][1]["memory_limit_bytes"] is None


def test_html_report_is_one_escaped_self_contained_file() -> None:
    odd = service("a<b>&\"c'", 40, None, project=None)
    series = {**SERIES, odd.label: [(SINCE, 40 * MIB), (SINCE + timedelta(minutes=5), 35 * MIB)]}
    page = build_html_report([*SERVICES, odd], series, SINCE)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Nothing to fetch: no scripts, stylesheets, images or links to the network.
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\((?!#)", page)  # only references within the page
    # The table, escaped.
    assert "a&lt;b&gt;&amp;&quot;c&#x27;" in page
    assert "a<b>" not in page
    assert "<td>shop/api</td>" in page and ">lower to 176MiB<" not in page
    assert "limit 512MiB is 3.8× the peak: lower to 176MiB" in page
    assert "raise to 336MiB" in page
    # One inline chart per service, its text kept as (escaped) text and a title naming it.
    assert page.count("<svg") == 3 and page.count("</svg>") == 3
    for label in ("shop/api", "shop/db", "a&lt;b&gt;&amp;&quot;c&#x27;"):
        assert f'data-service="{label}"' in page and f"<title>{label}</title>" in page
    api = page[page.index('data-service="shop/api"') :]
    api = api[: api.index("</svg>")]
    assert "limit 512MiB" in api and "recommended 176MiB" in api and "time (UTC)" in api
    assert "<?xml" not in page and "<metadata" not in page
    assert len(re.findall(r"<path\b", api)) > 10
