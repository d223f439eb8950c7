"""metadata.json parsing: hostile keys are refused, malformed files name the file and the key."""

from __future__ import annotations

import json

import pytest

from dfdc_lake.errors import CatalogError, SourceProblemsError
from dfdc_lake.source.metadata import clip_name_problem, is_clip_file_name, parse_metadata, video_id_of

SOURCE = "/data/dfdc_train_part_7/metadata.json"


def _parse(data: object, sizes: dict[str, int] | None = None):
    raw = data if isinstance(data, (str, bytes)) else json.dumps(data)
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
    ("key", "reason"),
    [
        ("../x.mp4", "holds a path separator"),
        ("/etc/passwd", "holds a path separator"),
        ("a/b.mp4", "holds a path separator"),
        ("a\\b.mp4", "holds a path separator"),
        ("C:\\x.mp4", "holds a path separator"),
        ("x.mp4/", "holds a path separator"),
        ("", "it is empty"),
        (".", "it is '.', not a file"),
        ("..", "it is '..', not a file"),
        ("..mp4", "starts with a dot"),
        (".hidden.mp4", "starts with a dot"),
        ("a\x00b.mp4", "control character U+0000"),
        ("a\nb.mp4", "control character U+000A"),
        ("a\x7fb.mp4", "control character U+007F"),
        ("a\u2028b.mp4", "line separator U+2028"),
        ("a\ud800b.mp4", "lone surrogate U+D800"),
        ("a::b.mp4", "holds '::'"),
        ("x" * 252 + ".mp4", "is 256 bytes in UTF-8, over the 255-byte"),
        ("é" * 126 + ".mp4", "is 256 bytes in UTF-8, over the 255-byte"),
        ("clip.avi", "only .mp4 clips are accepted"),
        ("clip.mov", "only .mp4 clips are accepted"),
        ("clip.MKV", "only .mp4 clips are accepted"),
        ("clip", "only .mp4 clips are accepted"),
        ("clip.mp4.part", "only .mp4 clips are accepted"),
    ],
)
def test_refused_keys_name_file_key_and_reason(key: str, reason: str) -> None:
    with pytest.raises(SourceProblemsError) as err:
        _parse({key: {"label": "REAL", "original": None}})
    (problem,) = err.value.problems
    assert SOURCE in problem and repr(key) in problem and reason in problem
    assert "not a safe '<name>.mp4' file name" in problem and problem in str(err.value)


@pytest.mark.parametrize(
    ("key", "video_id"),
    [
        ("ABCDEFGHIJ.MP4", "ABCDEFGHIJ"),
        ("abcdefghij.Mp4", "abcdefghij"),
        ("vidéo_ü.mp4", "vidéo_ü"),
        ("日本語クリップ.mp4", "日本語クリップ"),
        ("c d.mp4", "c d"),
        ("a:b#c[1].mp4", "a:b#c[1]"),
        ("x.y.mp4", "x.y"),
        ("x" * 251 + ".mp4", "x" * 251),  # 255 bytes, the limit
        ("é" * 125 + "x.mp4", "é" * 125 + "x"),  # 255 bytes in 130 characters
    ],
)
def test_safe_names_in_any_case_or_script_are_accepted(key: str, video_id: str) -> None:
    (entry,) = _parse({key: {"label": "REAL"}}, sizes={key: 3})
    assert (entry.filename, entry.video_id, entry.size_bytes) == (key, video_id, 3)
    assert entry.url == f"/data/dfdc_train_part_7/{key}"


def test_fake_of_an_uppercase_original_keeps_its_name() -> None:
    real, fake = _parse(
        {
            "AAAAAAAAAA.MP4": {"label": "REAL"},
            "bbbbbbbbbb.mp4": {"label": "FAKE", "original": "AAAAAAAAAA.MP4"},
        }
    )
    assert (real.video_id, fake.original) == ("AAAAAAAAAA", "AAAAAAAAAA.MP4")


def test_both_real_forms_are_read_alike() -> None:
    """The full dataset writes a REAL without 'original'; Kaggle's sample folder writes "original": null."""
    raw = '{"full000000.mp4": {"label": "REAL", "split": "train"}, "kaggle0000.mp4": {"label": "REAL", "split": "train", "original": null}}'
    full, kaggle = _parse(raw)
    assert (full.label, full.original, full.family_id) == ("REAL", None, "full000000")
    assert (kaggle.label, kaggle.original, kaggle.family_id) == ("REAL", None, "kaggle0000")


def test_every_problem_of_a_file_is_listed() -> None:
    with pytest.raises(SourceProblemsError) as err:
        _parse(
            {
                "../up.mp4": {"label": "REAL"},
                "good000000.mp4": {"label": "REAL"},
                "clip.mov": {"label": "REAL"},
                "nolabel000.mp4": {},
            }
        )
    message = str(err.value)
    assert message.startswith(f"metadata file {SOURCE} is refused, 3 problems:")
    assert [p.split(" ", 3)[2] for p in err.value.problems] == [
        "'../up.mp4'",
        "'clip.mov'",
        "'nolabel000.mp4'",
    ]
    assert all(problem in message for problem in err.value.problems) and "good000000" not in message


def test_a_long_list_of_problems_is_cut_in_the_message_only() -> None:
    with pytest.raises(SourceProblemsError) as err:
        _parse({f"clip{i:03d}.avi": {"label": "REAL"} for i in range(60)})
    assert len(err.value.problems) == 60
    assert "clip049.avi" in str(err.value) and "clip050.avi" not in str(err.value)
    assert str(err.value).endswith("... and 10 more")


def test_a_key_given_twice_names_both_entries() -> None:
    raw = (
        '{"aaaaaaaaaa.mp4": {"label": "REAL"},'
        ' "dupdupdupd.mp4": {"label": "REAL", "split": "train"},'
        ' "dupdupdupd.mp4": {"label": "FAKE", "original": "aaaaaaaaaa.mp4"}}'
    )
    with pytest.raises(SourceProblemsError) as err:
        _parse(raw)
    (problem,) = err.value.problems
    assert SOURCE in problem and "key 'dupdupdupd.mp4' twice" in problem
    assert '{"label": "REAL", "split": "train"}' in problem
    assert '{"label": "FAKE", "original": "aaaaaaaaaa.mp4"}' in problem


def test_a_field_given_twice_in_an_entry_is_refused() -> None:
    with pytest.raises(SourceProblemsError) as err:
        _parse('{"x.mp4": {"label": "FAKE", "label": "REAL"}}')
    (problem,) = err.value.problems
    assert (
        SOURCE in problem
        and "'x.mp4'" in problem
        and """field 'label' is given twice ("FAKE" and "REAL")""" in problem
    )


def test_two_keys_for_one_video_id_are_refused() -> None:
    with pytest.raises(SourceProblemsError) as err:
        _parse({"abc.mp4": {"label": "REAL"}, "abc.MP4": {"label": "REAL"}})
    (problem,) = err.value.problems
    assert SOURCE in problem and "'abc.MP4'" in problem and "'abc.mp4'" in problem
    assert "the same video id 'abc'" in problem


def test_hostile_original_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"'b\.mp4'.*original '\.\./\.\./etc/passwd'"):
        _parse({"b.mp4": {"label": "FAKE", "original": "../../etc/passwd"}})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "is not valid JSON"),
        (b"\xff\xfe\xfa", "is not valid JSON"),
        ("[" * 100_000, "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not list"),
        ('"x"', "must hold a JSON object, not str"),
    ],
)
def test_unreadable_files_name_the_file(text: str | bytes, fragment: str) -> None:
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
        ({"label": "FAKE", "original": "x.MP4"}, "cannot be its own original"),
        ({"label": "FAKE", "original": "y.mov"}, "original 'y.mov' is not a safe '<name>.mp4' file name"),
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
    assert is_clip_file_name("ABQWWSPGHJ.MP4")
    assert not is_clip_file_name(None)
    assert clip_name_problem(5) == "is not a string but int"
    assert not is_clip_file_name("a" * 300 + ".mp4")
    assert [video_id_of(n) for n in ("a.mp4", "a.MP4", "a.mP4", "a.mp4.mp4", "a.avi")] == [
        "a",
        "a",
        "a",
        "a.mp4",
        "a.avi",
    ]


def test_repeated_entries_are_shown_printable() -> None:
    raw = '{"x.mp4": {"label": "REAL", "split": "vidéo\\ud800\\u007f"}, "x.mp4": {"label": "REAL"}}'
    with pytest.raises(SourceProblemsError) as err:
        _parse(raw)
    (problem,) = err.value.problems
    assert '"split": "vidéo\\ud800\\u007f"' in problem
    problem.encode("utf-8")  # no lone surrogate left to break printing
