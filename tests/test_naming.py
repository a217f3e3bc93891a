"""File-system names (no Blender): shot folders, take numbers, frame files."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from oyster_blender.core.naming import (MAX_NAME_BYTES, MAX_NAME_LENGTH, TRASH_FOLDER, frame_file_name, inside,
                                   next_take_number, sanitise_name, take_folder_name)

FORBIDDEN = set('/\\:*?"<>|') | {chr(c) for c in range(32)}


@pytest.mark.parametrize("name, expected", [
    ("../../etc", "etc"),
    ("shot:1*?", "shot_1"),
    ("Shot 010: alley/chase*", "Shot_010_alley_chase"),
    ("sh010", "sh010"),
    ("a..b", "a.b"),
    ("...", "shot"),
    ("", "shot"),
    ("   ", "shot"),
    ("😀🎬", "shot"),
    ("CON", "shot_CON"),
    ("con.txt", "shot_con.txt"),
    ("Ａｌｌｅｙ", "Alley"),  # full-width letters, NFKC
    ("\u202eevil", "evil"),  # a right-to-left override is not part of a name
    ("C:\\Windows\\x", "C_Windows_x"),
    ("日本語ショット", "日本語ショット"),
])
def test_sanitise_name(name, expected):
    assert sanitise_name(name) == expected


def test_letters_of_any_script_keep_their_marks():
    assert sanitise_name("हिन्दी शॉट") == "हिन्दी_शॉट"  # vowel signs are combining marks
    assert sanitise_name("e\u0301te\u0301") == unicodedata.normalize("NFC", "été")
    assert sanitise_name("\u0301x") == "x"  # a mark with no letter before it goes


@pytest.mark.parametrize("name", ["x" * 500, "𠀀" * 100, "ü" * 300, "a/" * 200, "." * 100 + "a"])
def test_names_are_bounded_single_components(name):
    result = sanitise_name(name)
    assert 0 < len(result) <= MAX_NAME_LENGTH and len(result.encode()) <= MAX_NAME_BYTES
    assert not FORBIDDEN & set(result) and ".." not in result and result not in (".", "..")
    assert not result.endswith((".", " ")) and not result.startswith(".")


def test_sanitised_names_stay_inside_the_root(tmp_path):
    for name in ["../../etc", "..", "/abs/path", "~/x", "a/../../b", "\\..\\..\\x"]:
        folder = tmp_path / "oyster" / sanitise_name(name)
        assert inside(tmp_path, folder) and folder.parent == tmp_path / "oyster"


def test_inside_resolves_symlinks(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
    assert not inside(tmp_path / "root", tmp_path / "root" / "link" / "x")
    assert inside(tmp_path / "root", tmp_path / "root" / "a" / "b")


def test_take_and_frame_names():
    assert take_folder_name(1) == "take_001" and take_folder_name(1234) == "take_1234"
    with pytest.raises(ValueError):
        take_folder_name(0)
    assert frame_file_name(1) == "0001.png" and frame_file_name(12345) == "12345.png"
    assert frame_file_name(-1) == "-001.png" and frame_file_name(0) == "0000.png"
    names = {frame_file_name(f) for f in range(-1200, 12000)}
    assert len(names) == 13200  # no two frames share a file


def test_take_numbers_are_never_reused(tmp_path: Path):
    shot = tmp_path / "sh010"
    assert next_take_number(shot) == 1  # no folder yet
    shot.mkdir()
    for n in (1, 2, 3):
        (shot / take_folder_name(n)).mkdir()
    (shot / "take_notes").mkdir()  # not a take
    (shot / "take_7.txt").write_text("")
    assert next_take_number(shot) == 4
    (shot / TRASH_FOLDER).mkdir()
    (shot / "take_003").rename(shot / TRASH_FOLDER / "take_003")  # the newest take was deleted
    assert next_take_number(shot) == 4
    (shot / "take_001").rename(shot / TRASH_FOLDER / "take_001")
    (shot / "take_002").rename(shot / TRASH_FOLDER / "take_002")
    assert next_take_number(shot) == 4  # even with every take in the trash
    (shot / "take_999").mkdir()
    assert next_take_number(shot) == 1000 and take_folder_name(1000) == "take_1000"
