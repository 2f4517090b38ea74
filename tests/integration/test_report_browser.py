"""`report --html` of a real `watch` run, opened in headless Chromium: no console errors, a chart
per service in the page, a screenshot that is not blank (kept as an artifact), and the leak that
watch called told as such, with no limit advised."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from tests.integration.realdocker import ComposeProject, cli_env, dockermem, memhog_service

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

WINDOW = (1400, 1800)
# Nothing leaves the machine: no background services, and any request goes to a closed local port.
QUIET_CHROMIUM = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--dns-prefetch-disable", "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)  # fmt: skip


@pytest.fixture
def chromium() -> str:
    """Debian's chromium, which `make tools` installs (scripts/ensure-tools chromium=chromium)."""
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed: run scripts/ensure-tools chromium=chromium (make tools)"
        if os.environ.get("DOCKERMEM_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where the screenshots are kept: $DOCKERMEM_TEST_ARTIFACTS, else the test's own directory."""
    directory = Path(os.environ.get("DOCKERMEM_TEST_ARTIFACTS") or tmp_path / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def open_page(chromium: str, page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Chromium on the page with its console logged to stderr: `--dump-dom` or `--screenshot=…`."""
    return subprocess.run(
        [chromium, *QUIET_CHROMIUM, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", *action, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def console_messages(stderr: str) -> list[str]:
    """The page's console output, as Chromium logs it (`...:CONSOLE(12)] "message", source: ...`)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_console_check_sees_a_page_error(chromium: str, tmp_path: Path) -> None:
    # The check below is only worth something if a page's error reaches it.
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('broken page');</script></body></html>")
    result = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert any("broken page" in line for line in console_messages(result.stderr)), result.stderr[-2000:]


def test_html_report_of_a_real_watch_in_a_browser(
    project: ComposeProject, chromium: str, tmp_path: Path, artifacts: Path
) -> None:
    # 5 MiB/s into 512 MiB: watch calls the leak at once; the other service holds still.
    project.services = {
        "leaky": memhog_service(20, "512m", grow=5, checked=False),
        "steady": memhog_service(40, "128m", checked=False),
    }
    project.up()
    watch = dockermem("watch", "--json", "-p", project.name, "--duration", "20", "--interval", "0.5",
                      env=cli_env(), timeout=120)  # fmt: skip
    assert "Traceback" not in watch.stderr, watch.stderr
    assert any(json.loads(line)["type"] == "leak" for line in watch.stdout.splitlines() if line.strip())

    page = tmp_path / "report.html"
    report = dockermem("report", "--since", "1h", "-p", project.name, "--json", "--html", str(page),
                       env=cli_env())  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert report.stderr.strip() == f"HTML report written to {page}"
    services = {entry["service"]: entry for entry in json.loads(report.stdout)["services"]}
    assert set(services) == {"leaky", "steady"}
    leaky = services["leaky"]
    assert leaky["leak"]["seen_by_watch"] is True and leaky["recommended_limit_bytes"] is None
    assert leaky["advice"]["kind"] == "leak" and "fix the leak, no limit advised" in leaky["advice"]["text"]
    assert services["steady"]["leak"] is None and services["steady"]["p95_known"] is False  # < 20 samples

    dom = open_page(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    for service in services:
        label = f"{project.name}/{service}"
        assert f'data-service="{label}"' in dom.stdout and f"<title>{label}</title>" in dom.stdout
    assert dom.stdout.count("<svg") == 2

    shot = artifacts / f"report-{project.name}.png"
    result = open_page(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    print(f"screenshot: {shot}")
    with Image.open(shot) as image:
        assert image.size == WINDOW
        gray = image.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 10  # not one flat colour
        # The charts (below the two-row table) reach the right-hand quarter of a 1400 px page.
        right = gray.crop((WINDOW[0] * 3 // 4, WINDOW[1] // 4, WINDOW[0] - 20, WINDOW[1]))
        darkest, _ = ImageStat.Stat(right).extrema[0]
        assert darkest < 128, "nothing dark in the right quarter"
