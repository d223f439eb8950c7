"""load_catalog on every source layout (local), families, duplicates; archives read without unpacking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdc_lake.errors import CatalogError
from dfdc_lake.records import VideoEntry
from dfdc_lake.source.catalog import group_families, load_catalog
from dfdc_lake.source.storage import read_bytes
from tests.source.layouts import FAMILY_META, write_part_folder, write_part_zip


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
    with pytest.raises(CatalogError, match=r"'\.\./evil\.mp4'.*not a plain"):
        load_catalog(str(archive))
