"""The report in a real browser: headless Chromium loads every page from disk, every picture shows,
nothing is logged to the console, and a screenshot of a family page has something on it.

The pages hold no script. The check that every ``<img>`` loaded runs in a harness page of the test's
own (the report's pages in iframes; ``--allow-file-access-from-files`` lets it look inside them), which
writes what it found into its DOM for ``--dump-dom``. `make test` installs Debian's ``chromium`` when it
is missing; these tests skip only when no Chromium can be found at all.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdc_lake.lake.lake import Lake
from dfdc_lake.report.build import ReportOptions, build_report
from tests.lake.fakes import run_record
from tests.report.helpers import check_images, write_small_lake

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")
_HARNESS = """<!doctype html><html><body>{frames}<pre id="result"></pre><script>
window.addEventListener("load", function () {{
  var pages = [];
  document.querySelectorAll("iframe").forEach(function (frame) {{
    var images = frame.contentDocument.images, broken = [];
    for (var i = 0; i < images.length; i++) {{
      if (!images[i].complete || images[i].naturalWidth === 0) broken.push(images[i].getAttribute("src"));
    }}
    pages.push({{page: frame.getAttribute("src"), title: frame.contentDocument.title, images: images.length, broken: broken}});
  }});
  document.getElementById("result").textContent = JSON.stringify(pages);
}});
</script></body></html>
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no Chromium found on PATH (tried {', '.join(_BROWSERS)}); `make test` installs Debian's chromium"
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of the small synthetic lake, its run pointing at an unreachable source."""
    root = tmp_path_factory.mktemp("browser")
    lake = write_small_lake(str(root / "lake"))
    run = run_record("20260101T000000-aaaaaaaa", "2026-01-01T00:00:00Z", [r.chunk_id for r in lake.commits()])
    lake.write_run(
        run.model_copy(update={"source": str(root / "gone"), "started_at": "2030-01-01T00:00:00Z"})
    )
    build_report(Lake.open(lake.url), root / "report", ReportOptions(families=3))
    return root / "report"


def _chromium(chromium: str, url: str, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0", *options, url,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _pages(report_dir: Path) -> list[Path]:
    return [
        report_dir / "index.html",
        report_dir / "failures.html",
        *sorted(report_dir.glob("families/*.html")),
    ]


def test_every_page_loads_with_every_picture_and_no_console_message(
    chromium: str, report_dir: Path, tmp_path: Path
) -> None:
    pages = _pages(report_dir)
    frames = "".join(f'<iframe src="{p.relative_to(report_dir).as_posix()}"></iframe>' for p in pages)
    harness = report_dir / "_harness.html"
    harness.write_text(_HARNESS.format(frames=frames))
    try:
        result = _chromium(
            chromium, harness.as_uri(), tmp_path, "--allow-file-access-from-files",
            "--virtual-time-budget=20000", "--dump-dom",
        )  # fmt: skip
    finally:
        harness.unlink()
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found and found.group(1), f"the harness did not run; stderr:\n{result.stderr[-2000:]}"
    seen = {entry["page"]: entry for entry in json.loads(found.group(1).replace("&quot;", '"'))}
    assert len(seen) == len(pages) == 5
    for page in pages:
        entry = seen[page.relative_to(report_dir).as_posix()]
        assert entry["title"].startswith("dfdc-lake report") or entry["title"].startswith("family")
        assert entry["broken"] == [], f"{page.name}: pictures that did not load: {entry['broken']}"
        assert entry["images"] == check_images(page)
    assert sum(entry["images"] for entry in seen.values()) > 50
    assert _CONSOLE.findall(result.stderr) == []


def test_the_console_check_sees_an_error(chromium: str, tmp_path: Path) -> None:
    """The check above is not vacuous: a page that logs an error is caught the same way."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><script>console.error('boom'); missingFunction();</script>")
    result = _chromium(chromium, page.as_uri(), tmp_path, "--virtual-time-budget=2000", "--dump-dom")
    messages = _CONSOLE.findall(result.stderr)
    assert any("boom" in m for m in messages) and any("missingFunction" in m for m in messages)


def test_screenshot_of_a_family_page_shows_something(chromium: str, report_dir: Path, tmp_path: Path) -> None:
    page = sorted(report_dir.glob("families/*.html"))[0]
    shot = tmp_path / "family.png"
    _chromium(chromium, page.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1200,1400")
    assert shot.stat().st_size > 10_000
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1400, 1200)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # not one flat colour
