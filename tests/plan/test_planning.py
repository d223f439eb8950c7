"""``dfdc-lake plan`` without the estimate: the counts of a source, the chunks a lake already holds, the
source's problems as exit 2, and ``ingest`` printing the summary and recording the source's counts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dfdc_lake.cli import commands as cli
from dfdc_lake.config import Config
from dfdc_lake.ingest.driver import ingest
from dfdc_lake.lake.lake import Lake
from dfdc_lake.plan.chunks import plan_chunks
from dfdc_lake.plan.counts import format_summary, source_counts, summarize_plan
from dfdc_lake.source.catalog import load_catalog
from tests.lake.fakes import make_samples, write_chunk
from tests.source.layouts import FAMILY_META, truncate, write_part_folder, write_part_zip

MY_COMMANDS = ("plan", "status")


@pytest.fixture(autouse=True)
def only_my_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``dfdc-lake`` entry point with only the commands these tests use (others are not ours)."""
    monkeypatch.setattr(cli, "COMMANDS", {name: cli.COMMANDS[name] for name in MY_COMMANDS})


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def odd_source(tmp_path: Path) -> Path:
    """Three parts with one of every odd-but-usable thing the catalog counts.

    Part 0: a family of a REAL and two FAKEs, a FAKE whose original is not listed, a listed REAL absent
    from disk, and a file the metadata does not list. Part 1: part 0's REAL again (a duplicate), a FAKE
    made from a FAKE, stored as a zero-byte file. Part 2: metadata ``{}``.
    """
    root = tmp_path / "src"
    write_part_folder(root, 0, extra=("strayxxxxx.mp4",))
    part1 = {
        "realaaaaaa.mp4": FAMILY_META["realaaaaaa.mp4"],
        "fakeoffake.mp4": {"label": "FAKE", "split": "train", "original": "fakebbbbbb.mp4"},
    }
    folder = write_part_folder(root, 1, meta=part1, missing=())
    (folder / "fakeoffake.mp4").write_bytes(b"")
    write_part_folder(root, 2, meta={}, missing=())
    return root


def test_summary_counts_every_odd_thing(odd_source: Path) -> None:
    config = Config().with_overrides(["lake.videos_per_chunk=2"])
    catalog = load_catalog(str(odd_source))
    chunks = plan_chunks(catalog.families(), config.lake.videos_per_chunk)
    summary = summarize_plan(catalog, chunks, config)

    assert (summary.clips, summary.real, summary.fake) == (6, 2, 4)
    assert summary.parts == [0, 1]
    # realaaaaaa (2 fakes), missingeee (0 fakes; listed, absent); absentzzzz and fakebbbbbb have no REAL
    assert summary.families == 4 and summary.originals_missing == 2
    assert (summary.fakes_per_original.min, summary.fakes_per_original.median) == (0, 1.0)  # type: ignore[union-attr]
    assert summary.fakes_per_original.max == 2  # type: ignore[union-attr]
    assert summary.fakes_per_original_histogram["0"] == 1 and summary.fakes_per_original_histogram["1-2"] == 1
    assert summary.chunks == len(chunks) and summary.videos_per_chunk == 2
    assert sum(c.num_videos for c in chunks) == 6
    counts = summary.counts
    assert counts.unlisted.count == 1 and counts.unlisted.first[0].endswith("strayxxxxx.mp4")
    assert counts.missing.model_dump() == {"count": 1, "first": ["missingeee.mp4"]}
    assert counts.duplicates.count == 1 and "dfdc_train_part_1" in counts.duplicates.first[0]
    assert counts.empty_parts.model_dump() == {"count": 1, "first": ["dfdc_train_part_2"]}
    assert counts.fakes_of_fakes.model_dump() == {"count": 1, "first": ["fakeoffake.mp4"]}
    assert summary.zero_byte.first == ["fakeoffake.mp4"]
    assert summary.lake is None
    assert counts == source_counts(catalog)

    text = format_summary(summary)
    assert "6: 2 REAL, 4 FAKE" in text and "missingeee.mp4" in text and "dfdc_train_part_2" in text


def test_names_kept_with_a_count_are_capped(tmp_path: Path) -> None:
    meta = {f"real{i:06d}.mp4": {"label": "REAL", "split": "train"} for i in range(12)}
    write_part_folder(tmp_path, 0, meta=meta, missing=tuple(meta))
    counts = source_counts(load_catalog(str(tmp_path)))
    assert counts.missing.count == 12 and len(counts.missing.first) == 5


def test_plan_json_with_a_lake_counts_committed_and_remaining(
    odd_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config().with_overrides(["lake.videos_per_chunk=2"])
    chunks = plan_chunks(load_catalog(str(odd_source)).families(), 2)
    lake_url = str(tmp_path / "lake")
    write_chunk(lake_url, chunks[0].chunk_id, make_samples(1), config_hash=config.config_hash())
    write_chunk(lake_url, chunks[1].chunk_id, make_samples(1, seed=1), config_hash="another0config00")
    write_chunk(lake_url, "p42-c0000", make_samples(1, seed=2), config_hash=config.config_hash())

    code, out, _ = run_cli(
        capsys,
        "plan",
        str(odd_source),
        lake_url,
        "--set",
        "lake.videos_per_chunk=2",
        "--no-estimate",
        "--json",
    )
    assert code == 0
    document = json.loads(out)
    assert document["estimate"] is None and document["plan_s"] >= 0
    summary = document["summary"]
    assert summary["clips"] == 6 and summary["chunks"] == len(chunks)
    assert summary["config_hash"] == config.config_hash()
    assert summary["counts"]["fakes_of_fakes"]["count"] == 1 and summary["zero_byte"]["count"] == 1
    assert summary["lake"] == {
        "lake": lake_url,
        "committed_chunks": 1,  # the other planned chunk holds another config's commit
        "remaining_chunks": len(chunks) - 1,
        "remaining_clips": 6 - chunks[0].num_videos,
        "committed_outside_plan": 1,
    }

    code, out, _ = run_cli(
        capsys, "plan", str(odd_source), lake_url, "--set", "lake.videos_per_chunk=2", "--no-estimate"
    )
    assert code == 0 and f"1 of {len(chunks)} chunks committed with this config" in out
    assert "nothing was written" in out and not (tmp_path / "lake" / "runs").exists()


def test_nothing_remaining_is_not_estimated(
    odd_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config()
    lake_url = str(tmp_path / "lake")
    for i, chunk in enumerate(plan_chunks(load_catalog(str(odd_source)).families(), 60)):
        write_chunk(lake_url, chunk.chunk_id, make_samples(1, seed=i), config_hash=config.config_hash())
    code, out, _ = run_cli(capsys, "plan", str(odd_source), lake_url, "--json")  # no --no-estimate
    document = json.loads(out)
    assert code == 0 and document["estimate"] is None and document["summary"]["lake"]["remaining_chunks"] == 0


def test_plan_of_an_absent_lake_has_everything_remaining(
    odd_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "plan", str(odd_source), str(tmp_path / "nolake"), "--no-estimate", "--json"
    )
    lake = json.loads(out)["summary"]["lake"]
    assert code == 0 and lake["committed_chunks"] == 0 and lake["remaining_clips"] == 6
    assert not (tmp_path / "nolake").exists()


def test_source_problems_end_with_exit_2_and_every_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "bad"
    write_part_folder(root, 0, meta={**FAMILY_META, "../evil.mp4": {"label": "REAL"}})
    truncate(write_part_zip(root, 1))

    code, out, err = run_cli(capsys, "plan", str(root), "--no-estimate")
    assert code == 2 and out == ""
    assert err.startswith("dfdc-lake plan: error: ") and "refused, 2 problems" in err
    assert "'../evil.mp4'" in err and "dfdc_train_part_1.zip is not a readable zip" in err
    assert "Traceback" not in err


def test_bad_option_values_are_exit_2(odd_source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "plan", str(odd_source), "--cores", "0")
    assert code == 2 and "--cores" in err


def test_ingest_prints_the_summary_and_records_the_counts(
    odd_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every chunk is committed already, so ingest never starts Ray: it plans, prints, records, ends."""
    config = Config().with_overrides(["lake.videos_per_chunk=2"])
    lake = Lake.open(tmp_path / "lake")
    for i, chunk in enumerate(plan_chunks(load_catalog(str(odd_source)).families(), 2)):
        write_chunk(lake, chunk.chunk_id, make_samples(1, seed=i), config_hash=config.config_hash())
    stream = io.StringIO()

    report = ingest(str(odd_source), lake, config, stream=stream)

    assert report.ok and not report.committed_chunks and report.skipped_chunks
    printed = stream.getvalue()
    assert printed.index("[ingest] plan for") < printed.index("[ingest] run ")
    assert "[ingest] fakes of fakes  1" in printed and "[ingest] estimate" not in printed
    run = lake.latest_run()
    assert run is not None and run.source_counts == source_counts(load_catalog(str(odd_source)))

    code, out, _ = run_cli(capsys, "status", lake.url, "--json")
    assert code == 0 and json.loads(out)["source_counts"]["missing"] == {
        "count": 1,
        "first": ["missingeee.mp4"],
    }
    code, out, _ = run_cli(capsys, "status", lake.url)
    line = next(line for line in out.splitlines() if line.startswith("source (run):"))
    assert "1 unlisted" in line and "1 missing (e.g. missingeee.mp4)" in line and "1 empty parts" in line
