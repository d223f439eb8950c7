"""metadata.json parsing: hostile keys are refused, malformed files name the file and the key."""

from __future__ import annotations

import json

import pytest

from dfdc_lake.errors import CatalogError
from dfdc_lake.source.metadata import is_clip_file_name, parse_metadata

SOURCE = "/data/dfdc_train_part_7/metadata.json"


def _parse(data: object, sizes: dict[str, int] | None = None):
    raw = data if isinstance(data, str) else json.dumps(data)
    return parse_metadata(
        raw, source=SOURCE, part=7, url_for=lambda name: f"/data/dfdc_train_part_7/{name}", sizes=sizes or {}
    )


def test_entries_carry_label_original_url_and_size() -> None:
    entries = _parse(
        {
            "bbbbbbbbbb.mp4": {"label": "FAKE", "split": "train", "original": "aaaaaaaaaa.mp4"},
            "aaaaaaaaaa.mp4": {"label": "REAL", "split": "train", "original": None},
        },
        sizes={"aaaaaaaaaa.mp4": 1234},
    )
    assert [e.filename for e in entries] == ["aaaaaaaaaa.mp4", "bbbbbbbbbb.mp4"]
    real, fake = entries
    assert (real.video_id, real.label, real.original, real.part, real.size_bytes) == (
        "aaaaaaaaaa",
        "REAL",
        None,
        7,
        1234,
    )
    assert real.url == "/data/dfdc_train_part_7/aaaaaaaaaa.mp4"
    assert (fake.label, fake.original, fake.size_bytes, fake.family_id) == (
        "FAKE",
        "aaaaaaaaaa.mp4",
        None,
        "aaaaaaaaaa",
    )


@pytest.mark.parametrize(
    "key",
    [
        "../x.mp4",
        "/etc/passwd",
        "a/b.mp4",
        "",
        "..mp4",
        ".hidden.mp4",
        "a\\b.mp4",
        "x.mp4/",
        "clip.avi",
        "c d.mp4",
    ],
)
def test_hostile_keys_are_refused(key: str) -> None:
    with pytest.raises(CatalogError) as err:
        _parse({key: {"label": "REAL", "original": None}})
    assert SOURCE in str(err.value) and repr(key) in str(err.value)


def test_hostile_original_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"'b\.mp4'.*original '\.\./\.\./etc/passwd'"):
        _parse({"b.mp4": {"label": "FAKE", "original": "../../etc/passwd"}})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not list"),
        ('"x"', "must hold a JSON object, not str"),
    ],
)
def test_unreadable_files_name_the_file(text: str, fragment: str) -> None:
    with pytest.raises(CatalogError) as err:
        _parse(text)
    assert SOURCE in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("REAL", "value must be an object, not str"),
        ({"split": "train"}, "'label' is missing"),
        ({"label": "real"}, "label 'real' is not one of"),
        ({"label": 1}, "label 1 is not one of"),
        ({"label": "FAKE"}, "a FAKE needs its 'original'"),
        ({"label": "FAKE", "original": 5}, "original 5 is not"),
        ({"label": "REAL", "original": "y.mp4"}, "a REAL must not name an original"),
        ({"label": "FAKE", "original": "x.mp4"}, "cannot be its own original"),
    ],
)
def test_malformed_entries_name_file_and_key(value: object, fragment: str) -> None:
    with pytest.raises(CatalogError) as err:
        _parse({"ok.mp4": {"label": "REAL"}, "x.mp4": value})
    message = str(err.value)
    assert SOURCE in message and "'x.mp4'" in message and fragment in message


def test_clip_file_name_rule() -> None:
    assert is_clip_file_name("abqwwspghj.mp4")
    assert is_clip_file_name("a-b_c.d.mp4")
    assert not is_clip_file_name(None)
    assert not is_clip_file_name("a" * 300 + ".mp4")
