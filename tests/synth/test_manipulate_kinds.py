"""The manipulation catalogues: the blind check's strengths are new, and either catalogue can be chosen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdc_lake.synth.manipulate import write_manipulation_set
from dfdc_lake.synth.manipulate.__main__ import main
from dfdc_lake.synth.manipulate.kinds import (
    BLIND_CHECK,
    BLIND_CHECK_2,
    MANIPULATIONS,
    Manipulation,
    select_manipulations,
)

# What the blind catalogue repeats on purpose: what has no strength to vary, and the CRF 35 yardstick.
REPEATED = {
    ("swap", ""),
    ("voice_swap", ""),
    ("fps15", ""),
    ("quarter_res", ""),
    ("copy", ""),
    ("reencode", "crf35"),
}


def _recipe(manipulation: Manipulation) -> tuple[str, str]:
    return manipulation.kind, json.dumps(manipulation.params, sort_keys=True)


def test_the_blind_catalogue_repeats_only_its_yardsticks():
    scored = {_recipe(manipulation) for manipulation in MANIPULATIONS}
    repeated = {(m.kind, m.variant) for m in BLIND_CHECK if _recipe(m) in scored}
    assert repeated == REPEATED
    names = [manipulation.file_name("clip") for manipulation in BLIND_CHECK]
    assert len(set(names)) == len(names)
    # A new strength never takes a file name the main catalogue gives another strength.
    main_names = {manipulation.file_name("clip"): _recipe(manipulation) for manipulation in MANIPULATIONS}
    assert all(main_names.get(m.file_name("clip"), _recipe(m)) == _recipe(m) for m in BLIND_CHECK)


def test_a_catalogue_is_selected_by_name():
    assert select_manipulations(None) == list(MANIPULATIONS)
    assert select_manipulations(None, "blind") == list(BLIND_CHECK)
    assert [m.variant for m in select_manipulations(["smooth", "warp"], "blind")] == [
        "x6",
        "x3",
        "x2b",
        "medium",
    ]
    with pytest.raises(ValueError, match="unknown catalogue 'other'"):
        select_manipulations(None, "other")
    with pytest.raises(ValueError, match="no manipulation of the blind catalogue"):
        select_manipulations(["swap_and_voice"], "blind")
    with pytest.raises(ValueError, match="unknown catalogue"):
        write_manipulation_set([Path("clip.mp4")], Path("unused"), catalogue="other")


def test_the_command_line_takes_a_catalogue(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "out"), str(tmp_path / "clip.mp4"), "--catalogue", "other"])
    assert "invalid choice: 'other'" in capsys.readouterr().err
    args = [
        str(tmp_path / "out"),
        str(tmp_path / "clip.mp4"),
        "--catalogue",
        "blind",
        "--kinds",
        "swap_and_voice",
    ]
    assert main(args) == 2
    assert "no manipulation of the blind catalogue" in capsys.readouterr().err


def test_the_second_blind_catalogue_holds_only_strengths_never_scored():
    """``blind2`` repeats the yardsticks (and the swap with a voice swap); every other strength is new
    to both catalogues scored before it, and its file names never clash with theirs."""
    scored = {_recipe(m) for m in (*MANIPULATIONS, *BLIND_CHECK)}
    repeated = {(m.kind, m.variant) for m in BLIND_CHECK_2 if _recipe(m) in scored}
    assert repeated == REPEATED | {("swap_and_voice", "")}
    names = [manipulation.file_name("clip") for manipulation in BLIND_CHECK_2]
    assert len(set(names)) == len(names)
    earlier = {m.file_name("clip"): _recipe(m) for m in (*MANIPULATIONS, *BLIND_CHECK)}
    assert all(earlier.get(m.file_name("clip"), _recipe(m)) == _recipe(m) for m in BLIND_CHECK_2)
    assert select_manipulations(None, "blind2") == list(BLIND_CHECK_2)
