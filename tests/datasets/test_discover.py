"""Folder parsing, text lists, data roots and splits (pure functions)."""
from __future__ import annotations

import os

import pytest

from digitsx.classification.discover import (DatasetInputError, Entry, parse_labels, parse_list,
                                       scan_folder, split_counts, split_folder, within_roots)


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_scan_sorts_classes_flattens_nesting_and_filters_extensions(tmp_path):
    root = tmp_path / "tree"
    touch(root / "b_class" / "1.PNG")
    touch(root / "b_class" / "deep" / "er" / "2.JpEg")
    touch(root / "a" / "3.webp")
    touch(root / "a" / "readme.txt")
    touch(root / "a" / "4.tiff")
    classes, skipped = scan_folder(str(root), [str(tmp_path)])
    assert list(classes) == ["a", "b_class"]
    assert [os.path.basename(p) for p in classes["b_class"]] == ["1.PNG", "2.JpEg"]
    assert [os.path.basename(p) for p in classes["a"]] == ["3.webp", "4.tiff"]
    assert skipped == []


def test_symlinked_file_leaving_the_roots_is_skipped(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    touch(root / "tree" / "a" / "1.png")
    touch(outside / "secret.png")
    (root / "tree" / "a" / "2.png").symlink_to(outside / "secret.png")
    touch(root / "tree" / "b" / "3.png")
    classes, skipped = scan_folder(str(root / "tree"), [str(root)])
    assert [os.path.basename(p) for p in classes["a"]] == ["1.png"]
    assert skipped[0]["reason"] == "link to a file outside the data roots"


def test_within_roots_resolves_dotdot_and_symlinks(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "other")
    roots = [str(tmp_path / "root")]
    assert within_roots(tmp_path / "root" / "x", roots)
    assert not within_roots(f"{tmp_path}/root/../other", roots)
    assert not within_roots(tmp_path / "root" / "link", roots)
    assert not within_roots(f"{tmp_path}/rootsibling", roots)  # a prefix is not a parent


@pytest.mark.parametrize("n,val,test,expected", [(100, 25, 0, (25, 0)), (3, 10, 0, (1, 0)),
                                                (10, 10, 10, (1, 1)), (2, 25, 25, (1, 0)),
                                                (4, 0, 0, (0, 0))])
def test_split_counts_nonzero_percent_gives_at_least_one(n, val, test, expected):
    assert split_counts(n, val, test) == expected


def test_split_folder_min_max_labels_and_determinism():
    classes = {"big_cats": [f"b{i}" for i in range(50)], "dogs": [f"d{i}" for i in range(8)],
               "rare": ["r0"]}
    labels, splits, dropped = split_folder(classes, 25, 0, 2, 20, seed=1)
    assert labels == ["big cats", "dogs"]  # DIGITS: '_' shown as a space
    assert dropped == [{"class": "rare", "count": 1, "reason": "fewer than 2 images"}]
    counts = lambda split, label: sum(1 for e in splits[split] if e.label == label)
    assert (counts("train", 0), counts("val", 0)) == (15, 5)  # capped at 20, then 25 %
    assert (counts("train", 1), counts("val", 1)) == (6, 2)
    again = split_folder(classes, 25, 0, 2, 20, seed=1)[1]
    assert again == splits
    assert split_folder(classes, 25, 0, 2, 20, seed=2)[1] != splits


def test_split_folder_needs_two_classes():
    with pytest.raises(DatasetInputError, match="at least 2 classes are needed, 1 remain"):
        split_folder({"a": ["1", "2"], "b": ["1"]}, 25, 0, 2, None)


def test_parse_list(tmp_path):
    text = "# comment\n\nrel/a b.png 1\n/abs/c.png 0  \n"
    entries = parse_list(text, "train list", str(tmp_path), [str(tmp_path), "/abs"], 2)
    assert entries == [Entry(f"{tmp_path}/rel/a b.png", 1), Entry("/abs/c.png", 0)]
    with pytest.raises(DatasetInputError, match="^val list line 2: expected 'path label'"):
        parse_list("a.png 0\nno-label-here\n", "val list", str(tmp_path), [str(tmp_path)], 2)
    with pytest.raises(DatasetInputError, match="line 1: label 2 is out of range"):
        parse_list("a.png 2\n", "train list", str(tmp_path), [str(tmp_path)], 2)
    with pytest.raises(DatasetInputError, match="no 'path label' lines"):
        parse_list("\n# nothing\n", "train list", str(tmp_path), [str(tmp_path)], 2)
    assert parse_labels("cat\n\ndog\n") == ["cat", "dog"]
    with pytest.raises(DatasetInputError, match="no labels"):
        parse_labels("\n \n")
