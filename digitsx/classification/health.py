"""Dataset health: class imbalance and exact duplicates within and across splits."""
from __future__ import annotations

IMBALANCE_RATIO = 3.0  # warn when the largest training class is this many times the smallest
MAX_GROUPS = 100


def health_report(labels: list[str], stats: dict[str, dict]) -> dict:
    """Warnings and duplicate groups from each split's stored counts and pixel hashes."""
    warnings: list[str] = []
    train = stats.get("train")
    if train:
        counts = train["counts"]
        present = [c for c in counts if c > 0]
        if present and max(present) >= IMBALANCE_RATIO * min(present):
            big, small = counts.index(max(present)), counts.index(min(present))
            warnings.append(f"Class imbalance: '{labels[big]}' has {counts[big]} training images, "
                            f"'{labels[small]}' only {counts[small]} "
                            f"({counts[big] / counts[small]:.1f}×)")
        empty = [labels[i] for i, c in enumerate(counts) if c == 0]
        if empty:
            warnings.append(f"No training images for: {', '.join(empty[:20])}")
    for split, name, why in (("val", "validation", ": its accuracy cannot be measured"), ("test", "test", "")):
        st = stats.get(split)
        if st and sum(st.get("counts") or []):  # a split that exists, and the classes it lacks
            missing = [labels[i] for i, c in enumerate(st["counts"]) if c == 0 and i < len(labels)]
            if missing:
                warnings.append(f"Class missing from a split: no {name} images for "
                                f"{', '.join(missing[:20])}{why}")
    within = {}
    for split, st in stats.items():
        groups = [[st["paths"][i] for i in idx] for idx in st["hashes"].values() if len(idx) > 1]
        if groups:
            within[split] = groups[:MAX_GROUPS]
            warnings.append(f"{sum(len(g) - 1 for g in groups)} exact duplicate image(s) "
                            f"within {split}")
    across = []
    for split, st in stats.items():
        if split == "train" or not train:
            continue
        for digest, idx in st["hashes"].items():
            if digest in train["hashes"]:
                across.append({"splits": [
                    {"split": "train", "paths": [train["paths"][i] for i in train["hashes"][digest]]},
                    {"split": split, "paths": [st["paths"][i] for i in idx]}]})
    if across:
        warnings.append(f"{len(across)} image(s) appear in training and in validation/test "
                        f"(leakage)")
    return {"warnings": warnings, "duplicates_within": within, "duplicates_across": across[:MAX_GROUPS],
            "duplicates_across_count": len(across)}
