"""Real aerial images with tree-crown boxes, offline: the ``deepforest`` wheel ships four
annotated NEON crops (``deepforest/data/*.png`` + Pascal VOC ``*.xml``; classes Tree, and Alive
/ Dead in ``SOAP_061``). The package is located, never imported (``pip install --no-deps
deepforest``). :func:`write_trees` tiles the large crops and writes a VOC dataset tree."""
from __future__ import annotations

from pathlib import Path

TILE = 400


def deepforest_data() -> Path:
    """``deepforest/data`` (its wheel fetched once if it is not installed); FileNotFoundError
    says how to get it."""
    from ..datasets.package_data import package_folder

    return package_folder("deepforest", "data")


def _voc(file: str, width: int, height: int, boxes) -> str:
    objects = "".join(f"<object><name>{n}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
                      f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>" for n, x1, y1, x2, y2 in boxes)
    return (f"<annotation><filename>{file}</filename><size><width>{width}</width><height>{height}"
            f"</height><depth>3</depth></size>{objects}</annotation>\n")


def write_trees(dest: str | Path, val_every: int = 5) -> dict[str, int]:
    """Write ``dest/images/{train,val}/*.png`` and ``dest/voc/{train,val}/*.xml``: each
    annotated crop cut into 400×400 tiles (a box goes with the tile holding its centre, clipped
    to it); every ``val_every``-th tile is validation. Returns images per split."""
    from defusedxml import ElementTree
    from PIL import Image

    source = deepforest_data()
    dest = Path(dest)
    for split in ("train", "val"):
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "voc" / split).mkdir(parents=True, exist_ok=True)
    written = {"train": 0, "val": 0}
    count = 0
    for xml in sorted(source.glob("*.xml")):
        png = xml.with_suffix(".png")
        if not png.exists():
            continue
        root = ElementTree.parse(str(xml)).getroot()
        boxes = [(o.findtext("name"), *(int(float(o.find("bndbox").findtext(k)))
                                        for k in ("xmin", "ymin", "xmax", "ymax")))
                 for o in root.iter("object")]
        with Image.open(png) as opened:
            image = opened.convert("RGB")
        w, h = image.size
        for ty in range(0, h, TILE):
            for tx in range(0, w, TILE):
                tw, th = min(TILE, w - tx), min(TILE, h - ty)
                if tw < TILE // 2 or th < TILE // 2:
                    continue
                tile = [(n, max(0, x1 - tx), max(0, y1 - ty), min(tw, x2 - tx), min(th, y2 - ty))
                        for n, x1, y1, x2, y2 in boxes
                        if tx <= (x1 + x2) / 2 < tx + tw and ty <= (y1 + y2) / 2 < ty + th]
                tile = [b for b in tile if b[3] > b[1] and b[4] > b[2]]
                if not tile:
                    continue
                split = "val" if count % val_every == val_every - 1 else "train"
                count += 1
                stem = f"{xml.stem}_{tx}_{ty}"
                image.crop((tx, ty, tx + tw, ty + th)).save(dest / "images" / split / f"{stem}.png")
                (dest / "voc" / split / f"{stem}.xml").write_text(_voc(f"{stem}.png", tw, th, tile))
                written[split] += 1
    return written
