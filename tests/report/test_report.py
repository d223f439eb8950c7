"""``dfdc-lake report``: the pages, their pictures, and what it says about damaged and empty lakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dfdc_lake.cli import main
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.verify import verify_lake
from dfdc_lake.records import OutcomeStatus
from dfdc_lake.report.build import ReportOptions, build_report
from dfdc_lake.report.families import ReportError, choose_families
from tests.lake.fakes import make_samples, run_record, write_chunk
from tests.report.helpers import check_images, write_small_lake


def test_report_shows_the_lake_and_its_families(lake: Lake, tmp_path: Path) -> None:
    write_small_lake(lake.url)
    summary = build_report(lake, tmp_path / "report", ReportOptions(families=2))
    index = (tmp_path / "report" / "index.html").read_text()
    assert "All 4 committed shards are in place" in index
    assert "Videos by outcome status" in index and "Time per stage" in index and "Bytes per format" in index
    assert Lake.open(lake.url).latest_run().config_hash in index  # the config and its hash
    pages = sorted((tmp_path / "report" / "families").glob("*.html"))
    assert len(pages) == summary.family_pages == 2
    assert all(f"families/{page.name}" in index for page in pages)
    family = pages[0].read_text()
    assert "|fake &minus; original|" in family and "-diff.png" in family and "logmel.jpg" in family
    assert re.search(r"frame 10<br>0\.33 s", family)  # frame index and time over each column
    assert re.search(r"<figcaption>0\.99</figcaption>", family)  # detection scores under the crops
    assert "face_fake" in family and "audio_fake" in family
    images = sum(check_images(page) for page in [tmp_path / "report" / "index.html", *pages])
    assert images == summary.images > 0


def test_family_sample_is_stable_and_explicit_families_come_first(tmp_path: Path) -> None:
    lake = write_small_lake(str(tmp_path / "lake"))
    records = lake.commits()
    first, again = choose_families(records, 2), choose_families(records, 2)
    assert first == again and len(first) == 2
    assert choose_families(records, 1, ["fam003real"])[0] == "fam003real"
    assert "p00c0000noface" not in choose_families(records, 10)  # no samples: no page
    with pytest.raises(ReportError, match="nosuchfamily"):
        choose_families(records, 2, ["nosuchfamily"])
    assert main(["report", lake.url, "--out", str(tmp_path / "r"), "--family", "nosuchfamily"]) == 2


def test_a_damaged_lake_gets_a_report_that_says_so_first(lake: Lake, tmp_path: Path) -> None:
    """Orphans, a missing shard and an unreadable commit record: verify fails, the report still comes,
    and its first page says why; the family whose rows are gone says so on its page."""
    samples = make_samples(3, seed=5)
    write_chunk(lake, "p00-c0000", samples)
    broken = write_chunk(lake, "p01-c0000", make_samples(2, seed=6))
    write_chunk(lake, "p02-c0000", make_samples(2, seed=7), commit=False)  # orphans
    missing = broken.shards_of("parquet")[0].path
    lake.storage.delete(missing)
    lake.storage.write_bytes("commits/p03-c0000.json", b"{not json")
    assert not verify_lake(lake).ok
    gone = next(o.family_id for o in broken.outcomes if o.num_samples)
    build_report(lake, tmp_path / "report", ReportOptions(families=0, family_ids=(gone,)))
    index = (tmp_path / "report" / "index.html").read_text()
    banner = index[: index.index("Videos by outcome status")]
    assert "verify fails on this lake" in banner and "missing_shard" in banner and missing in banner
    assert "bad_record" in banner and "commits/p03-c0000.json" in banner
    assert "orphaned objects under chunks/" in banner
    family = (tmp_path / "report" / "families" / f"{gone}.html").read_text()
    assert "could not be read" in family and missing in family
    build_report(lake, tmp_path / "full", ReportOptions(families=0, full_verify=True))
    banner = (tmp_path / "full" / "index.html").read_text()
    assert "checked by a full verify" in banner and "missing_shard" in banner and "bad_record" in banner


def test_an_empty_lake_gets_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "no-lake-here"), "--out", str(out)]) == 0
    assert re.search(
        r"report: .*index\.html \(0 family pages, 0 images\) in \d+\.\ds", capsys.readouterr().out
    )
    assert "This lake is empty" in (out / "index.html").read_text()
    assert "The lake is empty" in (out / "failures.html").read_text()


def _source_with_clip(root: Path, name: str) -> Path:
    from tests.stages.clips import write_clip

    part = root / "dfdc_train_part_0"
    part.mkdir(parents=True)
    write_clip(part / name, num_frames=30)
    (part / "metadata.json").write_text(
        json.dumps({name: {"label": "REAL", "split": "train", "original": None}})
    )
    return root


def test_no_face_videos_show_frames_from_a_reachable_source(tmp_path: Path) -> None:
    source = _source_with_clip(tmp_path / "source", "nofaceclip.mp4")
    lake = Lake.open(str(tmp_path / "lake"))
    extra = {"nofaceclip.mp4": OutcomeStatus.NO_FACE, "brokenclip.mp4": OutcomeStatus.DECODE_ERROR}
    write_chunk(lake, "p00-c0000", make_samples(2, seed=8), extra=extra)
    run = run_record("20260101T000000-aaaaaaaa", "2026-01-01T00:00:00Z", ["p00-c0000"])
    lake.write_run(run.model_copy(update={"source": str(source)}))
    build_report(lake, tmp_path / "report")
    failures = (tmp_path / "report" / "failures.html").read_text()
    assert "decoded from the source" in failures and "synthetic no_face" in failures
    assert "decode_error" in failures and "synthetic decode_error" in failures  # the reason
    assert check_images(tmp_path / "report" / "failures.html") == 3

    lake.write_run(run.model_copy(update={"source": str(tmp_path / "gone")}))
    build_report(lake, tmp_path / "report2")
    failures = (tmp_path / "report2" / "failures.html").read_text()
    assert (
        "is not reachable from here" in failures and check_images(tmp_path / "report2" / "failures.html") == 0
    )


def test_ids_become_distinct_plain_file_names() -> None:
    from dfdc_lake.report.family_page import safe_name

    assert safe_name("abqwwspghj") == "abqwwspghj"
    odd = [safe_name(text) for text in ("a.b", "a_b", "a b", "é")]
    assert len(set(odd)) == 4 and all(re.fullmatch(r"[A-Za-z0-9_-]+", name) for name in odd)
