"""Pin the full SHA-256 of every weights file our catalog offers, in
``digitsx/models/weights_sha256.json`` (the prefix in torchvision's file names is 32 bits: a
forged file with a matching prefix costs about 2^32 hashes).

    .venv/bin/python scripts/pin_weights_sha256.py [--only FILE ...] [--from-dir DIR]

Run it on a machine that can reach download.pytorch.org (each file is downloaded once, checked
against its published prefix, hashed, and thrown away), or give ``--from-dir`` a folder that
already holds the files (a torch.hub ``checkpoints`` folder you trust). Commit the result.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = ROOT / "digitsx" / "models" / "weights_sha256.json"


def digest_of(entry: dict, source_dir: Path | None) -> str:
    from digitsx.engine import weights_cache

    if source_dir is not None:
        path = source_dir / entry["file"]
        digest = weights_cache.sha256(path)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / entry["file"]
            weights_cache.download(entry["url"], part, weights_cache.size_limit(entry), name=entry["file"])
            digest = weights_cache.sha256(part)
    if not digest.startswith(entry.get("sha256_prefix") or ""):
        raise SystemExit(f"{entry['file']}: {digest} does not start with the published prefix")
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="file names to pin (default: every one)")
    parser.add_argument("--from-dir", type=Path, help="hash files already in this folder")
    args = parser.parse_args()
    catalog = json.loads((ROOT / "digitsx" / "models" / "published_weights.json").read_text())
    pinned = json.loads(TARGET.read_text())
    files = {e["file"]: e for e in catalog["weights"].values()}
    for name, entry in sorted(files.items()):
        if args.only and name not in args.only:
            continue
        pinned["files"][name] = digest_of(entry, args.from_dir)
        print(name, pinned["files"][name], flush=True)
        TARGET.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
