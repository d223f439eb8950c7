"""load_catalog on every source layout (local), families, duplicates; archives read without unpacking.

Also what a real download holds: odd names, damaged archives, stray files, empty parts, all reported.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest

from dfdc_lake.errors import CatalogError, SourceProblemsError
from dfdc_lake.records import VideoEntry
from dfdc_lake.source.catalog import group_families, load_catalog
from dfdc_lake.source.storage import read_bytes, read_clip
from tests.source.layouts import FAMILY_META, truncate, write_part_folder, write_part_zip


def _check_part(catalog, part: int) -> None:
    by_name = {e.filename: e for e in catalog.entries if e.part == part}
    assert set(by_name) == set(FAMILY_META)
    assert by_name["missingeee.mp4"].size_bytes is None
    for name in FAMILY_META:
        entry = by_name[name]
        if name != "missingeee.mp4":
            data = read_bytes(entry.url)
            assert data == name.encode() * 10 and entry.size_bytes == len(data)
    with pytest.raises(FileNotFoundError):
        read_bytes(by_name["missingeee.mp4"].url)


def test_root_with_part_folders(tmp_path: Path) -> None:
    write_part_folder(tmp_path, 0)
    meta = {f"p1clip{i:04d}.mp4": {"label": "REAL", "original": None} for i in range(3)}
    write_part_folder(tmp_path, 1, meta)
    (tmp_path / "notes.txt").write_text("not a part")
    catalog = load_catalog(str(tmp_path))
    assert catalog.parts == [0, 1] and len(catalog) == len(FAMILY_META) + 3
    assert [(e.part, e.filename) for e in catalog.entries] == sorted(
        (e.part, e.filename) for e in catalog.entries
    )
    _check_part(catalog, 0)
    assert (catalog.duplicates, catalog.unlisted, catalog.empty_parts, catalog.fakes_of_fakes) == (
        [],
        [],
        [],
        [],
    )


def test_single_part_folder(tmp_path: Path) -> None:
    folder = write_part_folder(tmp_path, 4)
    catalog = load_catalog(str(folder) + "/")
    assert catalog.parts == [4]
    _check_part(catalog, 4)


@pytest.mark.parametrize("inner_folder", [True, False])
def test_single_zip_archive_read_in_place(tmp_path: Path, inner_folder: bool) -> None:
    archive = write_part_zip(tmp_path, 2, inner_folder=inner_folder)
    catalog = load_catalog(str(archive))
    assert catalog.parts == [2]
    assert all(e.url.startswith("zip://") and e.url.endswith(f"::{archive}") for e in catalog.entries)
    _check_part(catalog, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # nothing unpacked


def test_folder_of_zip_archives(tmp_path: Path) -> None:
    write_part_zip(tmp_path, 3)
    write_part_zip(tmp_path, 11, {"elevenaaaa.mp4": {"label": "REAL", "original": None}}, missing=())
    catalog = load_catalog(str(tmp_path))
    assert catalog.parts == [3, 11]
    _check_part(catalog, 3)
    (eleven,) = [e for e in catalog.entries if e.part == 11]
    assert read_bytes(eleven.url) == b"elevenaaaa.mp4" * 10
    assert read_clip(eleven.url) == b"elevenaaaa.mp4" * 10  # a zip member is read whole


def test_a_local_clip_is_decoded_from_disk_not_read_whole(tmp_path: Path) -> None:
    write_part_folder(tmp_path, 0)
    catalog = load_catalog(str(tmp_path))
    for entry in catalog.entries:
        if entry.size_bytes is None:
            with pytest.raises(FileNotFoundError):
                read_clip(entry.url)
        else:
            clip = read_clip(entry.url)
            assert isinstance(clip, Path) and clip.read_bytes() == read_bytes(entry.url)


def test_same_file_name_in_two_parts_is_kept_once(tmp_path: Path) -> None:
    write_part_folder(tmp_path, 0)
    write_part_folder(tmp_path, 5, {"realaaaaaa.mp4": {"label": "REAL", "original": None}})
    catalog = load_catalog(str(tmp_path))
    assert [e.part for e in catalog.entries if e.filename == "realaaaaaa.mp4"] == [0]
    assert len(catalog) == len(FAMILY_META)
    (dup,) = catalog.duplicates
    assert dup.filename == "realaaaaaa.mp4"
    assert "dfdc_train_part_0" in dup.kept_url and "dfdc_train_part_5" in dup.dropped_url


def test_families_group_fakes_with_their_original(tmp_path: Path) -> None:
    write_part_folder(tmp_path, 0)
    families = load_catalog(str(tmp_path)).families()
    by_id = {f.family_id: f for f in families}
    assert [f.family_id for f in families] == sorted(by_id)
    family = by_id["realaaaaaa"]
    assert family.original is not None and family.original.filename == "realaaaaaa.mp4"
    assert [f.filename for f in family.fakes] == ["fakebbbbbb.mp4", "fakecccccc.mp4"]
    orphan = by_id["absentzzzz"]
    assert orphan.original is None and [f.filename for f in orphan.fakes] == ["orphandddd.mp4"]
    assert by_id["missingeee"].fakes == [] and by_id["missingeee"].original is not None
    assert sum(len(f.videos) for f in families) == len(FAMILY_META)


def test_group_families_sorts_by_part_then_family() -> None:
    def entry(name: str, part: int, original: str | None = None) -> VideoEntry:
        label = "FAKE" if original else "REAL"
        return VideoEntry(name, f"{name}.mp4", part, label, original, f"/x/{name}.mp4", 1)

    families = group_families([entry("zz", 0), entry("bb", 1), entry("aa", 1), entry("ff", 0, "yy.mp4")])
    assert [(f.videos[0].part, f.family_id) for f in families] == [(0, "yy"), (0, "zz"), (1, "aa"), (1, "bb")]


def test_bad_sources_raise_catalog_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match=r"holds no metadata\.json"):
        load_catalog(str(tmp_path / "empty"))


def test_malformed_metadata_in_a_part_names_file_and_key(tmp_path: Path) -> None:
    folder = write_part_folder(tmp_path, 0)
    meta = dict(FAMILY_META, **{"broken1234.mp4": {"label": "MAYBE"}})
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CatalogError) as err:
        load_catalog(str(tmp_path))
    assert str(folder / "metadata.json") in str(err.value) and "'broken1234.mp4'" in str(err.value)


def test_hostile_key_inside_an_archive_is_refused(tmp_path: Path) -> None:
    archive = write_part_zip(
        tmp_path, 0, {"../evil.mp4": {"label": "REAL", "original": None}}, missing=("../evil.mp4",)
    )
    with pytest.raises(CatalogError, match=r"'\.\./evil\.mp4'.*not a safe .* holds a path separator"):
        load_catalog(str(archive))


def test_uppercase_and_non_ascii_names_in_folder_and_archive(tmp_path: Path) -> None:
    meta = {
        "ABCDEFGHIJ.MP4": {"label": "REAL"},
        "vidéo_ü.mp4": {"label": "FAKE", "original": "ABCDEFGHIJ.MP4"},
        "lower.mp4": {"label": "FAKE", "original": "abcdefghij.mp4"},
    }
    write_part_folder(tmp_path, 0, meta, missing=())
    write_part_zip(tmp_path, 1, {"ZIPPEDCLIP.Mp4": {"label": "REAL", "original": None}}, missing=())
    catalog = load_catalog(str(tmp_path))
    by_id = {e.video_id: e for e in catalog.entries}
    assert set(by_id) == {"ABCDEFGHIJ", "vidéo_ü", "lower", "ZIPPEDCLIP"}
    for entry in catalog.entries:
        assert read_bytes(entry.url) == entry.filename.encode() * 10
    families = {f.family_id: f for f in catalog.families()}
    family = families["ABCDEFGHIJ"]
    assert family.original is by_id["ABCDEFGHIJ"] and [f.video_id for f in family.fakes] == ["vidéo_ü"]
    # Names are case-sensitive, only the extension is not: "abcdefghij" is another (absent) original.
    assert families["abcdefghij"].original is None


def test_both_real_forms_make_families(tmp_path: Path) -> None:
    """The full dataset writes a REAL without 'original', Kaggle's sample folder "original": null."""
    full = {"fullreal00.mp4": {"label": "REAL", "split": "train"}}
    full["fullfake00.mp4"] = {"label": "FAKE", "split": "train", "original": "fullreal00.mp4"}
    kaggle = {"kagglereal.mp4": {"label": "REAL", "split": "train", "original": None}}
    kaggle["kagglefake.mp4"] = {"label": "FAKE", "split": "train", "original": "kagglereal.mp4"}
    write_part_folder(tmp_path, 0, full, missing=())
    write_part_zip(tmp_path, 1, kaggle, missing=())
    families = {f.family_id: f for f in load_catalog(str(tmp_path)).families()}
    assert sorted(families) == ["fullreal00", "kagglereal"]
    for family_id, family in families.items():
        assert family.original is not None and family.original.video_id == family_id
        assert len(family.fakes) == 1


def test_every_problem_of_every_part_is_listed_in_one_error(tmp_path: Path) -> None:
    hostile = write_part_folder(
        tmp_path, 0, {"../evil.mp4": {"label": "REAL"}, "clip.avi": {"label": "REAL"}}
    )
    not_json = write_part_folder(tmp_path, 1)
    (not_json / "metadata.json").write_text('{"a.mp4": {"label": "REAL"')
    half = truncate(write_part_zip(tmp_path, 2))
    empty = truncate(write_part_zip(tmp_path, 3), keep=0)
    write_part_folder(tmp_path, 4)  # a good part does not hide the bad ones
    with pytest.raises(SourceProblemsError) as err:
        load_catalog(str(tmp_path))
    problems = err.value.problems
    assert str(err.value).startswith(f"DFDC source {tmp_path} is refused, 5 problems:")
    assert all(problem in str(err.value) for problem in problems)
    assert str(hostile / "metadata.json") in problems[0] and "'../evil.mp4'" in problems[0]
    assert str(hostile / "metadata.json") in problems[1] and "only .mp4 clips are accepted" in problems[1]
    assert str(not_json / "metadata.json") in problems[2] and "is not valid JSON" in problems[2]
    for archive, problem in zip([half, empty], problems[3:], strict=True):
        assert problem.startswith(
            f"zip archive {archive} is not a readable zip (still downloading or damaged?)"
        )


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.0])
def test_truncated_archive_is_named_not_a_traceback(tmp_path: Path, keep: float) -> None:
    archive = truncate(write_part_zip(tmp_path, 6), keep=keep)
    with pytest.raises(SourceProblemsError) as err:
        load_catalog(str(archive))
    (problem,) = err.value.problems
    assert problem.startswith(f"zip archive {archive} is not a readable zip (still downloading or damaged?)")


def test_damaged_metadata_inside_an_archive_is_named(tmp_path: Path) -> None:
    archive = write_part_zip(tmp_path, 0)
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("dfdc_train_part_0/metadata.json")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + 20  # into the compressed bytes
    data[start : start + 16] = bytes(b ^ 0xFF for b in data[start : start + 16])
    archive.write_bytes(bytes(data))
    with pytest.raises(SourceProblemsError) as err:
        load_catalog(str(archive))
    (problem,) = err.value.problems
    assert problem.startswith(f"zip archive {archive} is not a readable zip (still downloading or damaged?)")


def test_missing_archive_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"zip archive .*nowhere\.zip does not exist"):
        load_catalog(str(tmp_path / "nowhere.zip"))


def test_unlisted_files_are_counted_not_ingested(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = write_part_folder(tmp_path, 0, extra=("strayaaaaa.mp4", "notes.txt"))
    (folder / "subfolder").mkdir()
    archive = write_part_zip(
        tmp_path, 1, {"zipclipaaa.mp4": {"label": "REAL"}}, missing=(), extra=("strayzip00.mp4",)
    )
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog(str(tmp_path))
    assert catalog.unlisted == [  # notes.txt is no clip: not counted
        str(folder / "strayaaaaa.mp4"),
        f"zip://dfdc_train_part_1/strayzip00.mp4::{archive}",
    ]
    assert len(catalog) == len(FAMILY_META) + 1 and "strayaaaaa" not in {e.video_id for e in catalog.entries}
    assert "2 files lie in a part but its metadata.json does not list them" in caplog.text


def test_empty_part_is_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_part_folder(tmp_path, 0)
    write_part_folder(tmp_path, 1, {})
    write_part_zip(tmp_path, 2, {})
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog(str(tmp_path))
    assert catalog.empty_parts == [1, 2] and catalog.parts == [0] and len(catalog) == len(FAMILY_META)
    assert "2 parts list no clip at all: [1, 2]" in caplog.text


def test_fake_of_a_fake_is_counted_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    meta = {
        "realaaaaaa.mp4": {"label": "REAL"},
        "fakebbbbbb.mp4": {"label": "FAKE", "original": "realaaaaaa.mp4"},
        "fakecccccc.mp4": {"label": "FAKE", "original": "fakebbbbbb.mp4"},
        "fakedddddd.mp4": {"label": "FAKE", "original": "FAKECCCCCC.MP4"},  # another id: not a fake's
        "fakeeeeeee.mp4": {"label": "FAKE", "original": "fakecccccc.MP4"},
    }
    write_part_folder(tmp_path, 0, meta, missing=())
    with caplog.at_level(logging.WARNING):
        catalog = load_catalog(str(tmp_path))
    assert catalog.fakes_of_fakes == ["fakecccccc.mp4", "fakeeeeeee.mp4"] and len(catalog) == len(meta)
    families = {f.family_id: f for f in catalog.families()}
    assert [f.video_id for f in families["realaaaaaa"].fakes] == ["fakebbbbbb"]
    assert families["fakebbbbbb"].original is None and [f.video_id for f in families["fakebbbbbb"].fakes] == [
        "fakecccccc"
    ]
    assert [f.video_id for f in families["fakecccccc"].fakes] == ["fakeeeeeee"]
    assert "2 FAKEs were made from another FAKE" in caplog.text


def test_same_clip_with_another_extension_case_is_kept_once(tmp_path: Path) -> None:
    write_part_folder(tmp_path, 0)
    write_part_folder(tmp_path, 5, {"realaaaaaa.MP4": {"label": "REAL"}})
    catalog = load_catalog(str(tmp_path))
    assert [e.filename for e in catalog.entries if e.video_id == "realaaaaaa"] == ["realaaaaaa.mp4"]
    (dup,) = catalog.duplicates
    assert dup.filename == "realaaaaaa.MP4" and "dfdc_train_part_5" in dup.dropped_url
