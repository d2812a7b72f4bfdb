"""Image classification's inputs: class-per-folder trees, ``path label`` text lists, data
roots, splits.

Pure Python (no Pillow): the web process uses it to validate forms, the worker to build.
Every input error is a :class:`DatasetInputError` whose message names the file and line.
"""
from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ..datasets.folder import SPLITS
from ..datasets.labelfiles import MAX_CLASSES, class_names
from ..files import IMAGE_EXTENSIONS, InputError, is_image, within_roots

LIST_LINE = re.compile(r"^(.+?)\s+(\d+)\s*$")


DatasetInputError = InputError  # bad input for a dataset: a missing folder, a bad label...


@dataclass(frozen=True)
class Entry:
    """One image to store: its path and label index."""

    path: str
    label: int


def check_path(path: str, roots: list[str], what: str) -> str:
    """The path if it is inside the data roots; DatasetInputError naming it otherwise."""
    if not path:
        raise DatasetInputError(f"{what}: no path given")
    if "\x00" in path:
        raise DatasetInputError(f"{what}: a path may not contain a NUL byte")
    if not within_roots(path, roots):
        raise DatasetInputError(f"{what}: {path} is outside the allowed data roots "
                                f"({', '.join(roots)})")
    return path


def label_name(folder: str) -> str:
    """DIGITS's label for a class folder: the folder name with ``_`` as a space."""
    return folder.replace("_", " ")


def scan_folder(folder: str, roots: list[str], what: str = "folder_train"
                ) -> tuple[dict[str, list[str]], list[dict]]:
    """``{class folder name: [image paths]}`` (nested folders flattened) and skipped files."""
    check_path(folder, roots, what)
    if not os.path.isdir(folder):
        raise DatasetInputError(f"{what}: {folder} does not exist or is not a folder")
    classes = sorted(d.name for d in os.scandir(folder) if d.is_dir(follow_symlinks=True))
    if len(classes) > MAX_CLASSES:
        raise DatasetInputError(f"{what}: {folder} has {len(classes)} class folders; at most {MAX_CLASSES}")
    if not classes:
        raise DatasetInputError(f"{what}: {folder} has no sub-folders: put each class's images "
                                f"in a sub-folder named after the class")
    found: dict[str, list[str]] = {}
    skipped: list[dict] = []
    for name in classes:
        paths: list[str] = []
        for dirpath, dirnames, filenames in os.walk(os.path.join(folder, name), followlinks=False):
            dirnames.sort()
            for fname in sorted(filenames):
                path = os.path.join(dirpath, fname)
                if not is_image(fname):
                    continue
                if not within_roots(path, roots):
                    skipped.append({"path": path, "reason": "link to a file outside the data roots"})
                    continue
                paths.append(path)
        found[name] = paths
    if not any(found.values()):
        raise DatasetInputError(f"{what}: no images found under {folder} (extensions: "
                                f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found, skipped


def precheck_folder(folder: str, min_per_class: int = 1, budget: int = 20_000) -> str | None:
    """What is wrong with a class-per-folder tree that can be seen at once (no class
    sub-folders, no images, a single class with images), or None; looks at no more than
    ``budget`` files (a bigger tree is checked whole by its job)."""
    need = max(1, int(min_per_class or 1))
    try:
        classes = sorted(d.name for d in os.scandir(folder) if d.is_dir(follow_symlinks=True))
    except OSError as err:
        return f"{folder} cannot be read ({err.strerror or err})"
    if not classes:
        return (f"{folder} has no sub-folders: put each class's images in a sub-folder named "
                f"after the class ({folder}/cats/1.jpg, {folder}/dogs/2.jpg…)")
    counts: dict[str, int] = {}
    seen = 0
    for name in classes:
        count = 0
        for _, dirnames, filenames in os.walk(os.path.join(folder, name)):
            dirnames.sort()
            for fname in filenames:
                seen += 1
                count += is_image(fname)
                if count >= need or seen > budget:
                    break
            if count >= need or seen > budget:
                break
        counts[name] = count
        if sum(1 for c in counts.values() if c >= need) >= 2 or seen > budget:
            return None
    if not any(counts.values()):
        return (f"no images found in the class folders of {folder} ({', '.join(classes[:5])}"
                f"{'…' if len(classes) > 5 else ''}; extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    enough = [name for name, c in counts.items() if c >= need]
    short = [f"{name}: {c}" for name, c in counts.items() if 0 < c < need]
    return (f"{folder}: at least 2 classes are needed, each in its own sub-folder with at least "
            f"{need} image{'s' if need > 1 else ''}; "
            + (f"only {enough[0]} has" if enough else "none has")
            + (f" (too few in {', '.join(short[:5])}: lower the minimum per class or add images)" if short else ""))


def parse_labels(text: str, source: str = "labels file") -> list[str]:
    """Label names, one per non-empty line (line i names label i)."""
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise DatasetInputError(f"{source}: no labels in the file")
    return class_names(labels, "the file", source)


def parse_list(text: str, source: str, prefix: str, roots: list[str],
               num_labels: int | None) -> list[Entry]:
    """``path label`` lines → entries; relative paths are joined to ``prefix``."""
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LIST_LINE.match(line)
        if not match:
            raise DatasetInputError(f"{source} line {number}: expected 'path label' (a path, "
                                    f"a space, a label number), got {line[:120]!r}")
        path, label = match.group(1).strip(), int(match.group(2))
        if num_labels is not None and label >= num_labels:
            raise DatasetInputError(f"{source} line {number}: label {label} is out of range "
                                    f"(the labels file has {num_labels} labels: 0 to "
                                    f"{num_labels - 1})")
        if not os.path.isabs(path):
            path = os.path.join(prefix, path) if prefix else path
        if not within_roots(path, roots):
            raise DatasetInputError(f"{source} line {number}: {path} is outside the allowed "
                                    f"data roots")
        entries.append(Entry(path, label))
    if not entries:
        raise DatasetInputError(f"{source}: the list has no 'path label' lines")
    return entries


def split_counts(n: int, pct_val: float, pct_test: float) -> tuple[int, int]:
    """Images of a class for val and test; a non-zero percentage gives at least one."""
    n_val = int(n * pct_val / 100)
    n_test = int(n * pct_test / 100)
    if pct_val > 0 and n_val == 0 and n > 1:
        n_val = 1
    if pct_test > 0 and n_test == 0 and n - n_val > 1:
        n_test = 1
    return n_val, n_test


def split_folder(classes: dict[str, list[str]], pct_val: float, pct_test: float,
                 min_per_class: int, max_per_class: int | None, seed: int = 0
                 ) -> tuple[list[str], dict[str, list[Entry]], list[dict]]:
    """Labels, per-split entries and dropped classes, from a scanned folder.

    Classes under ``min_per_class`` are dropped; each class is shuffled (seeded), capped at
    ``max_per_class``, then split; the training list is shuffled once more.
    """
    rng = random.Random(seed)
    dropped = [{"class": name, "count": len(paths), "reason": f"fewer than {min_per_class} images"}
               for name, paths in classes.items() if len(paths) < min_per_class]
    kept = [name for name in classes if len(classes[name]) >= max(1, min_per_class)]
    if len(kept) < 2:
        raise DatasetInputError(
            f"at least 2 classes are needed, {len(kept)} remain"
            + (f" ({len(dropped)} had fewer than {min_per_class} images)" if dropped else ""))
    splits: dict[str, list[Entry]] = {s: [] for s in SPLITS}
    for label, name in enumerate(kept):
        paths = list(classes[name])
        rng.shuffle(paths)
        if max_per_class:
            paths = paths[:max_per_class]
        n_val, n_test = split_counts(len(paths), pct_val, pct_test)
        splits["val"] += [Entry(p, label) for p in paths[:n_val]]
        splits["test"] += [Entry(p, label) for p in paths[n_val:n_val + n_test]]
        splits["train"] += [Entry(p, label) for p in paths[n_val + n_test:]]
    rng.shuffle(splits["train"])
    return [label_name(n) for n in kept], splits, dropped


def folder_split(folder: str, roots: list[str], class_names: list[str], what: str,
                 min_per_class: int, max_per_class: int | None, seed: int = 0
                 ) -> tuple[list[Entry], list[dict], list[dict]]:
    """Entries of a separate validation or test folder, labelled by the training classes."""
    classes, skipped = scan_folder(folder, roots, what)
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [name for name in classes if label_name(name) not in index]
    if unknown:
        raise DatasetInputError(f"{what}: classes not in the training folder: "
                                f"{', '.join(unknown[:10])}")
    rng = random.Random(seed)
    entries: list[Entry] = []
    dropped = []
    for name, paths in classes.items():
        if len(paths) < min_per_class:
            dropped.append({"class": name, "count": len(paths), "split": what,
                            "reason": f"fewer than {min_per_class} images"})
            continue
        paths = list(paths)
        rng.shuffle(paths)
        entries += [Entry(p, index[label_name(name)]) for p in paths[:max_per_class or None]]
    return entries, skipped, dropped


def find_tree_root(folder: Path) -> Path:
    """Descend through single-folder levels (an archive holding ``flowers/<class>/...``)."""
    while True:
        items = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        dirs = [p for p in items if p.is_dir()]
        if len(dirs) == 1 and len(items) == 1:
            folder = dirs[0]
        else:
            return folder
