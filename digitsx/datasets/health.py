"""What every task's dataset health report says the same way: a class missing from a split."""
from __future__ import annotations


def missing_from_splits(classes: list[str], counts: dict[str, list], what: str, skip=(),
                        splits=("train", "val", "test")) -> list[dict]:
    """A class with no ``what`` in one split that has some in another (trained on but never
    validated, or validated but never trained on): one issue each, naming the splits."""
    names = {"train": "training", "val": "validation", "test": "test"}
    out = []
    for i, name in enumerate(classes):
        if i in skip:
            continue
        have = {s: int(c[i]) for s, c in counts.items() if i < len(c) and c[i]}
        for split in counts:
            if split in have or not have or split not in splits:
                continue
            found = ", ".join(f"{n:,} in {names.get(s, s)}" for s, n in have.items())
            out.append({"kind": "class missing from a split", "where": name,
                        "message": f"{name}: no {what} in the {names.get(split, split)} images ({found})"
                                   + (": the model never learns it" if split == "train" else
                                      ": its quality cannot be measured" if split == "val" else "")})
    return out
